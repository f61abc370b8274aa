/**
 * Settings shared by the cloud sinks for `urlFor`: a public base URL (public bucket, CDN) or signed URLs.
 * @module
 */
import { z } from 'zod'
import { duration } from './units.ts'

/** SigV4 presigned URLs and GCS V4 signed URLs both live at most 7 days. */
export const MAX_URL_EXPIRY_MS = 7 * 86_400_000

export const urlExpiry = duration.refine((ms) => ms >= 1000 && ms <= MAX_URL_EXPIRY_MS, {
  message: 'between 1s and 7d (the longest a signed URL may live)',
})

/** `https://cdn.example.com/thumbs`, without a trailing slash once parsed. */
export const publicBaseUrl = z
  .url({ protocol: /^https?$/, message: 'an http(s) URL, e.g. https://cdn.example.com/thumbs' })
  .transform((url) => url.replace(/\/+$/, ''))
