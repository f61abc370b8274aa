/**
 * The config of the Google Cloud Storage sink.
 * @module
 */
import { z } from 'zod'
import { DEFAULT_KEY } from '../template/key.ts'
import { byteSize } from './units.ts'
import { keyTemplate } from './key-template.ts'
import { bucketName } from './bucket-name.ts'
import { MAX_URL_EXPIRY_MS, publicBaseUrl, urlExpiry } from './object-urls.ts'
import { checkRetention, retentionConfig } from './retention.ts'

export const gcsSinkConfig = z
  .object({
    type: z.literal('gcs'),
    bucket: bucketName,
    key: keyTemplate.default(DEFAULT_KEY),
    /**
     * A service account key file; Application Default Credentials otherwise (GOOGLE_APPLICATION_CREDENTIALS, gcloud,
     * metadata server).
     */
    keyFilename: z.string().min(1).optional(),
    /** Only needed when the credentials do not name one. */
    projectId: z.string().min(1).optional(),
    /** An emulator or private endpoint: `http://127.0.0.1:9199`. STORAGE_EMULATOR_HOST does the same. */
    apiEndpoint: z.url({ protocol: /^https?$/, message: 'an http(s) URL, e.g. http://127.0.0.1:9199' }).optional(),
    /** Bodies above this size use a resumable upload (two requests, survives a dropped connection); smaller, one. */
    resumableAbove: byteSize.default(8 * 1024 * 1024),
    /** Public bucket or CDN in front of it: urlFor answers `${publicBaseUrl}/${key}` instead of signing. */
    publicBaseUrl: publicBaseUrl.optional(),
    /** How long signed GET URLs live (at most 7d, V4 signing's limit). */
    urlExpiry: urlExpiry.default(MAX_URL_EXPIRY_MS),
    retention: retentionConfig.optional(),
  })
  .strict()
  .superRefine(checkRetention)

export type GcsSinkConfig = z.infer<typeof gcsSinkConfig>
