/**
 * The backend's config (`spool:`): where accepted events wait for delivery and the stream state is kept. A local
 * directory (the default), NATS JetStream shared by several instances (`type: nats`), or an S3 bucket
 * (`type: s3`, for serverless functions).
 * @module
 */
import { z } from 'zod'
import { byteSize, duration } from './units.ts'
import { printable } from './printable.ts'
import { checkS3Connection, s3ConnectionFields } from './s3-sink.ts'

const MiB = 1024 * 1024

const localSpoolConfig = z
  .object({
    type: z.literal('local').default('local'),
    /** Where accepted events wait for delivery; one gateway process per directory. */
    dir: z.string().min(1).default('./spool'),
    /** Also survive power loss: each write is synced to the device (concurrent requests share one sync). */
    fsync: z.boolean().default(false),
    /** Above this many bytes on disk, new events get 503 until deliveries catch up. */
    maxBytes: byteSize.default(1024 * MiB),
    /** Size at which a new segment file is started; finished segments are deleted whole. */
    segmentBytes: byteSize.default(64 * MiB),
    /** Bodies of pending events kept in memory, so deliveries need not read them back. */
    cacheBytes: byteSize.default(64 * MiB),
    /** An identical delivery (same body, same thumbnail headers) within this window is answered 200, not fanned out. */
    dedupWindow: duration.default(600_000),
  })
  .strict()

const natsAuth = z
  .object({
    token: printable.min(1).optional(),
    user: printable.min(1).optional(),
    password: printable.min(1).optional(),
    /** A `.creds` file (JWT and NKey seed). */
    credsFile: z.string().min(1).optional(),
    /** TLS: present (even `{}`) to require it; PEM files. */
    tls: z
      .object({
        caFile: z.string().min(1).optional(),
        certFile: z.string().min(1).optional(),
        keyFile: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .refine((auth) => (auth.user === undefined) === (auth.password === undefined), 'user and password go together')

const natsSpoolConfig = z
  .object({
    type: z.literal('nats'),
    /** `nats://host:4222` (or `tls://`); several for a cluster. */
    servers: z.array(z.string().regex(/^(nats|tls|wss?):\/\/\S+$/, 'a URL like nats://host:4222')).min(1),
    auth: natsAuth.optional(),
    /** Names the streams (`<prefix>-events`, `-deliveries`, `-dead`) and KV buckets (`<prefix>-streams`, ...). */
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and -')
      .default('hookcast'),
    /** Copies of every stream and bucket: 1, or 3 on a 3-node cluster for production. */
    replicas: z.number().int().min(1).max(5).default(1),
    /** An identical delivery within this window is answered 200 and not fanned out again, by any instance. */
    dedupWindow: duration.default(600_000),
    /** How long the claims of an instance that went silent are held before another instance gets them. */
    ackWait: duration.default(30_000),
    /** The events stream holds at most this many bytes; past it, new hooks get 503. Default: no limit. */
    maxBytes: byteSize.optional(),
    /** A hook whose put NATS has not acknowledged within this long gets 503. */
    publishTimeout: duration.default(2_000),
  })
  .strict()

/** Serverless (AWS Lambda): the queue and the stream state as objects in a bucket, changed by conditional writes. */
const s3SpoolConfig = z
  .object({
    type: z.literal('s3'),
    ...s3ConnectionFields,
    /** Every key starts with `<prefix>/`. */
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9_./-]+$/, 'letters, digits, _ . / and -')
      .default('hookcast'),
    /** An identical delivery within this window is answered 200 and not fanned out again. */
    dedupWindow: duration.default(600_000),
  })
  .strict()
  .superRefine(checkS3Connection)

/** A `spool:` without a `type` is the local directory. */
export const spoolConfig = z.preprocess(
  (value) => (value && typeof value === 'object' && !('type' in value) ? { ...value, type: 'local' } : value),
  z.discriminatedUnion('type', [localSpoolConfig, natsSpoolConfig, s3SpoolConfig]),
)

export type LocalSpoolConfig = z.infer<typeof localSpoolConfig>
export type NatsSpoolConfig = z.infer<typeof natsSpoolConfig>
export type S3SpoolConfig = z.infer<typeof s3SpoolConfig>
export type SpoolConfig = z.infer<typeof spoolConfig>
