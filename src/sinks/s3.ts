/**
 * The Amazon S3 sink (and S3-compatible stores: MinIO, R2, Ceph through `endpoint`): each event is one object,
 * keyed by the template; a redelivery overwrites it with the same bytes.
 *
 * Credentials come from the standard AWS chain (environment, profile, role) unless the config names them, which it
 * should only do through `${VAR}`. The SDK is loaded and the client built on first use, once.
 * @module
 */
import type { S3Client } from '@aws-sdk/client-s3'
import type { HookEvent } from '../events/types.ts'
import { renderKey } from '../template/key.ts'
import { silentLogger } from '../log.ts'
import { objectMetadata } from './metadata.ts'
import { publicUrl } from './object-urls.ts'
import { createRetention, type RetentionStore, type StoredObject } from './retention.ts'
import { s3DeliveryError, type S3Place } from './s3-errors.ts'
import type { Sink, SinkOptions } from './types.ts'
import type { S3SinkConfig } from '../config/s3-sink.ts'

type Sdk = typeof import('@aws-sdk/client-s3')

/** S3 deletes at most this many keys per request. */
const DELETE_BATCH = 1000

export function createS3Sink(name: string, config: S3SinkConfig, options: SinkOptions = {}): Sink {
  const region = config.region ?? 'us-east-1'
  const place: S3Place = { sink: name, bucket: config.bucket, region, endpoint: config.endpoint, acl: config.acl }
  let loading: Promise<{ sdk: Sdk; s3: S3Client }> | undefined

  /** Loads the SDK and builds the client on first use; a failed load is tried again next time. */
  function client(): Promise<{ sdk: Sdk; s3: S3Client }> {
    loading ??= import('@aws-sdk/client-s3')
      .then((sdk) => ({
        sdk,
        s3: new sdk.S3Client({
          region,
          ...(config.endpoint ? { endpoint: config.endpoint } : {}),
          forcePathStyle: config.forcePathStyle ?? config.endpoint !== undefined,
          ...(config.profile ? { profile: config.profile } : {}),
          ...(config.accessKeyId && config.secretAccessKey
            ? { credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey } }
            : {}),
          // Bodies are sent as they are: no trailing CRC checksums, which S3-compatible stores often reject.
          requestChecksumCalculation: 'WHEN_REQUIRED',
          responseChecksumValidation: 'WHEN_REQUIRED',
          requestHandler: { connectionTimeout: 5_000, requestTimeout: 60_000, throwOnRequestTimeout: true },
        }),
      }))
      .catch((error) => {
        loading = undefined
        throw error
      })
    return loading
  }

  const store: RetentionStore = {
    async list(prefix) {
      const { sdk, s3 } = await client()
      const out: StoredObject[] = []
      let token: string | undefined
      try {
        do {
          const page = await s3.send(
            new sdk.ListObjectsV2Command({ Bucket: config.bucket, Prefix: prefix, ContinuationToken: token }),
          )
          for (const item of page.Contents ?? []) {
            if (item.Key !== undefined) out.push({ key: item.Key, modified: item.LastModified?.getTime() ?? 0 })
          }
          token = page.IsTruncated ? page.NextContinuationToken : undefined
        } while (token)
      } catch (error) {
        throw s3DeliveryError(error, 'list', prefix, place)
      }
      return out
    },
    async remove(keys) {
      const { sdk, s3 } = await client()
      for (let i = 0; i < keys.length; i += DELETE_BATCH) {
        const batch = keys.slice(i, i + DELETE_BATCH).map((Key) => ({ Key }))
        let failed: { Key?: string | undefined; Code?: string | undefined }[]
        try {
          const result = await s3.send(
            new sdk.DeleteObjectsCommand({ Bucket: config.bucket, Delete: { Objects: batch, Quiet: true } }),
          )
          failed = result.Errors ?? []
        } catch (error) {
          throw s3DeliveryError(error, 'delete', batch[0]?.Key, place)
        }
        if (failed.length > 0) throw s3DeliveryError({ name: failed[0]!.Code }, 'delete', failed[0]!.Key, place)
      }
    },
  }

  const retention =
    config.retention &&
    createRetention(config.retention, config.key, store, {
      sink: name,
      log: options.log ?? silentLogger,
      now: options.now ?? Date.now,
    })

  return {
    name,
    kind: 'sink',
    concurrency: 16,
    keyFor: (event) => renderKey(config.key, event),
    async deliver(event: HookEvent, signal?: AbortSignal) {
      const key = renderKey(config.key, event)
      try {
        const { sdk, s3 } = await client()
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
      } catch (error) {
        if (signal?.aborted) throw signal.reason
        throw s3DeliveryError(error, 'write', key, place)
      }
      if (!signal?.aborted) await retention?.afterPut(event, key)
    },
    async urlFor(event: HookEvent) {
      const key = renderKey(config.key, event)
      if (config.publicBaseUrl) return publicUrl(config.publicBaseUrl, key)
      const [{ sdk, s3 }, { getSignedUrl }] = await Promise.all([client(), import('@aws-sdk/s3-request-presigner')])
      return getSignedUrl(s3, new sdk.GetObjectCommand({ Bucket: config.bucket, Key: key }), {
        expiresIn: Math.floor(config.urlExpiry / 1000),
      })
    },
    async check() {
      try {
        const { sdk, s3 } = await client()
        await s3.send(new sdk.HeadBucketCommand({ Bucket: config.bucket }))
        return undefined
      } catch (error) {
        return s3DeliveryError(error, 'list', undefined, place).message
      }
    },
    async close() {
      if (loading) (await loading.catch(() => undefined))?.s3.destroy()
    },
  }
}
