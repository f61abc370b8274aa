/**
 * The zod type of a cloud sink's `bucket:`.
 * @module
 */
import { z } from 'zod'

/** Lenient on purpose: legacy buckets and S3-compatible stores allow more than today's AWS and GCS rules. */
export const bucketName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{1,220}[A-Za-z0-9]$/, {
  message: 'a bucket name (3-222 letters, digits, . _ -), without s3:// or gs:// or a path',
})
