/**
 * The config of the Amazon S3 sink, for S3 and S3-compatible stores, and how hookcast reaches a bucket (the S3
 * backend too).
 * @module
 */
import { z } from 'zod'
import { printable } from './printable.ts'
import { DEFAULT_KEY } from '../template/key.ts'
import { keyTemplate } from './key-template.ts'
import { bucketName } from './bucket-name.ts'
import { MAX_URL_EXPIRY_MS, publicBaseUrl, urlExpiry } from './object-urls.ts'
import { checkRetention, retentionConfig } from './retention.ts'

const STORAGE_CLASSES = [
  'STANDARD',
  'REDUCED_REDUNDANCY',
  'STANDARD_IA',
  'ONEZONE_IA',
  'INTELLIGENT_TIERING',
  'GLACIER',
  'GLACIER_IR',
  'DEEP_ARCHIVE',
  'OUTPOSTS',
  'SNOW',
  'EXPRESS_ONEZONE',
] as const
const CANNED_ACLS = [
  'private',
  'public-read',
  'authenticated-read',
  'bucket-owner-read',
  'bucket-owner-full-control',
] as const

/** How hookcast reaches a bucket: the same options for the s3 sink and the s3 spool. */
export const s3ConnectionFields = {
  bucket: bucketName,
  /** The bucket's region; optional only with an `endpoint` (S3-compatible stores mostly ignore it). */
  region: z.string().min(1).optional(),
  /** An S3-compatible store: `http://127.0.0.1:9000` (MinIO), `https://<account>.r2.cloudflarestorage.com`. */
  endpoint: z.url({ protocol: /^https?$/, message: 'an http(s) URL, e.g. http://127.0.0.1:9000' }).optional(),
  /** `bucket` in the path instead of the host name; defaults to true with an `endpoint`. */
  forcePathStyle: z.boolean().optional(),
  /** A named profile of ~/.aws/config; the AWS chain otherwise (AWS_PROFILE, env keys, role). */
  profile: z.string().min(1).optional(),
  /** Static keys for stores outside AWS. Write them as "${VAR}", never literally. */
  accessKeyId: printable.min(1).optional(),
  secretAccessKey: printable.min(1).optional(),
}

export const s3SinkConfig = z
  .object({
    type: z.literal('s3'),
    ...s3ConnectionFields,
    key: keyTemplate.default(DEFAULT_KEY),
    storageClass: z.enum(STORAGE_CLASSES).optional(),
    /** A canned ACL; `public-read` needs a bucket with ACLs enabled (most new buckets have them disabled). */
    acl: z.enum(CANNED_ACLS).optional(),
    /** Public bucket or CDN in front of it: urlFor answers `${publicBaseUrl}/${key}` instead of presigning. */
    publicBaseUrl: publicBaseUrl.optional(),
    /** How long presigned GET URLs live (at most 7d, SigV4's limit). */
    urlExpiry: urlExpiry.default(MAX_URL_EXPIRY_MS),
    retention: retentionConfig.optional(),
  })
  .strict()
  .superRefine((config, ctx) => {
    checkS3Connection(config, ctx)
    checkRetention(config, ctx)
  })

type S3Connection = {
  region?: string | undefined
  endpoint?: string | undefined
  profile?: string | undefined
  accessKeyId?: string | undefined
  secretAccessKey?: string | undefined
}

export function checkS3Connection(config: S3Connection, ctx: z.RefinementCtx): void {
  if (config.region === undefined && config.endpoint === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['region'],
      message: 'required: the bucket\'s region, e.g. eu-west-1 (or "${AWS_REGION}")',
    })
  }
  if ((config.accessKeyId === undefined) !== (config.secretAccessKey === undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: [config.accessKeyId === undefined ? 'accessKeyId' : 'secretAccessKey'],
      message: 'set both accessKeyId and secretAccessKey (as "${VAR}"), or neither to use the AWS credential chain',
    })
  }
  if (config.profile !== undefined && config.accessKeyId !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['profile'], message: 'profile and accessKeyId exclude each other: pick one' })
  }
}

export type S3SinkConfig = z.infer<typeof s3SinkConfig>
