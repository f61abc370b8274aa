/**
 * The Amazon S3 sink (and S3-compatible stores: MinIO, R2, Ceph through `endpoint`).
 *
 * Credentials come from the standard AWS chain (environment, profile, role) unless the config names them, which it
 * should only do through `${VAR}`.
 * @module
 */
import type { HookEvent } from '../events/types.ts'
import type { S3SinkConfig } from '../config/s3-sink.ts'
import { objectMetadata } from './object-metadata.ts'
import type { StoredObject } from './retention.ts'
import { s3DeliveryError, type S3Place } from './s3-errors.ts'
import { lazyS3Client, type LazyS3Client } from './s3-client.ts'
import { cloudSink, type CloudBucket } from './cloud-sink.ts'
import type { Sink, SinkOptions } from './types.ts'

/** S3 deletes at most this many keys per request. */
const DELETE_BATCH = 1000

/** What the steps below share. */
interface S3SinkContext {
  config: S3SinkConfig
  /** Where failures happened, for their messages. */
  place: S3Place
  client: LazyS3Client
}

export function createS3Sink(name: string, config: S3SinkConfig, options: SinkOptions = {}): Sink {
  const region = config.region ?? 'us-east-1'
  const place: S3Place = { sink: name, bucket: config.bucket, region, endpoint: config.endpoint, acl: config.acl }
  const ctx: S3SinkContext = { config, place, client: lazyS3Client({ ...config, requestTimeoutMs: 60_000 }) }
  const bucket: CloudBucket = {
    list: (prefix) => listObjects(ctx, prefix),
    remove: (keys) => removeObjects(ctx, keys),
    write: (key, event, signal) => putEvent(ctx, key, event, signal),
    writeError: (error, key) => s3DeliveryError(error, 'write', key, place),
    signedUrl: (key) => presignedUrl(ctx, key),
    check: () => checkBucket(ctx),
    close: () => ctx.client.close(),
  }
  return cloudSink(name, config, bucket, options)
}

async function putEvent(
  ctx: S3SinkContext,
  key: string,
  event: HookEvent,
  signal: AbortSignal | undefined,
): Promise<void> {
  const { config } = ctx
  const { sdk, s3 } = await ctx.client.get()
  await s3.send(
    new sdk.PutObjectCommand({
      Bucket: config.bucket,
      Key: key,
      Body: event.body,
      ContentType: event.contentType, // and no ContentEncoding: the body is the bytes themselves
      Metadata: objectMetadata(event),
      ...(config.storageClass ? { StorageClass: config.storageClass } : {}),
      ...(config.acl ? { ACL: config.acl } : {}),
    }),
    signal ? { abortSignal: signal } : {},
  )
}

async function listObjects(ctx: S3SinkContext, prefix: string): Promise<StoredObject[]> {
  const { sdk, s3 } = await ctx.client.get()
  const out: StoredObject[] = []
  let token: string | undefined
  try {
    do {
      const page = await s3.send(
        new sdk.ListObjectsV2Command({ Bucket: ctx.config.bucket, Prefix: prefix, ContinuationToken: token }),
      )
      for (const item of page.Contents ?? []) {
        if (item.Key !== undefined) out.push({ key: item.Key, modified: item.LastModified?.getTime() ?? 0 })
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined
    } while (token)
  } catch (error) {
    throw s3DeliveryError(error, 'list', prefix, ctx.place)
  }
  return out
}

async function removeObjects(ctx: S3SinkContext, keys: string[]): Promise<void> {
  const { sdk, s3 } = await ctx.client.get()
  for (let i = 0; i < keys.length; i += DELETE_BATCH) {
    const batch = keys.slice(i, i + DELETE_BATCH).map((Key) => ({ Key }))
    let failed: { Key?: string | undefined; Code?: string | undefined }[]
    try {
      const result = await s3.send(
        new sdk.DeleteObjectsCommand({ Bucket: ctx.config.bucket, Delete: { Objects: batch, Quiet: true } }),
      )
      failed = result.Errors ?? []
    } catch (error) {
      throw s3DeliveryError(error, 'delete', batch[0]?.Key, ctx.place)
    }
    if (failed.length > 0) throw s3DeliveryError({ name: failed[0]!.Code }, 'delete', failed[0]!.Key, ctx.place)
  }
}

async function presignedUrl(ctx: S3SinkContext, key: string): Promise<string> {
  const [{ sdk, s3 }, { getSignedUrl }] = await Promise.all([ctx.client.get(), import('@aws-sdk/s3-request-presigner')])
  return getSignedUrl(s3, new sdk.GetObjectCommand({ Bucket: ctx.config.bucket, Key: key }), {
    expiresIn: Math.floor(ctx.config.urlExpiry / 1000),
  })
}

async function checkBucket(ctx: S3SinkContext): Promise<string | undefined> {
  try {
    const { sdk, s3 } = await ctx.client.get()
    await s3.send(new sdk.HeadBucketCommand({ Bucket: ctx.config.bucket }))
    return undefined
  } catch (error) {
    return s3DeliveryError(error, 'list', undefined, ctx.place).message
  }
}
