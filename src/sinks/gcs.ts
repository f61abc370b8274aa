/**
 * The Google Cloud Storage sink: each event is one object, keyed by the template; a redelivery overwrites it with
 * the same bytes.
 *
 * Credentials come from Application Default Credentials or a service account key file. An emulator is reached
 * through `apiEndpoint` or STORAGE_EMULATOR_HOST (the library then sends no credentials). The library is loaded and
 * the client built on first use, once.
 * @module
 */
import { Buffer } from 'node:buffer'
import type { Writable } from 'node:stream'
import type { Storage } from '@google-cloud/storage'
import type { HookEvent } from '../events/types.ts'
import { renderKey } from '../template/key.ts'
import { silentLogger } from '../log.ts'
import { objectMetadata } from './metadata.ts'
import { publicUrl } from './object-urls.ts'
import { createRetention, type RetentionStore } from './retention.ts'
import { gcsDeliveryError, type GcsPlace } from './gcs-errors.ts'
import type { Sink, SinkOptions } from './types.ts'
import type { GcsSinkConfig } from '../config/gcs-sink.ts'

/** Deletes in flight at once during a retention sweep (the JSON API deletes one object per request). */
const DELETE_CONCURRENCY = 8

export function createGcsSink(name: string, config: GcsSinkConfig, options: SinkOptions = {}): Sink {
  const place: GcsPlace = { sink: name, bucket: config.bucket, keyFilename: config.keyFilename }
  let loading: Promise<Storage> | undefined

  /** Loads the library and builds the client on first use; a failed load is tried again next time. */
  function storage(): Promise<Storage> {
    loading ??= import('@google-cloud/storage')
      .then(
        ({ Storage }) =>
          new Storage({
            ...(config.apiEndpoint ? { apiEndpoint: config.apiEndpoint } : {}),
            ...(config.keyFilename ? { keyFilename: config.keyFilename } : {}),
            ...(config.projectId ? { projectId: config.projectId } : {}),
            timeout: 60_000,
          }),
      )
      .catch((error) => {
        loading = undefined
        throw error
      })
    return loading
  }

  const bucket = async () => (await storage()).bucket(config.bucket)

  const store: RetentionStore = {
    async list(prefix) {
      try {
        const [files] = await (await bucket()).getFiles({ prefix, autoPaginate: true })
        return files.map((file) => ({
          key: file.name,
          // The live generation's creation is when this object was last written (what lifecycle "age" counts too).
          modified: Date.parse(String(file.metadata.timeCreated ?? file.metadata.updated ?? 0)) || 0,
        }))
      } catch (error) {
        throw gcsDeliveryError(error, 'list', prefix, place)
      }
    },
    async remove(keys) {
      const target = await bucket()
      const pending = [...keys]
      const worker = async () => {
        for (let key = pending.shift(); key !== undefined; key = pending.shift()) {
          try {
            await target.file(key).delete({ ignoreNotFound: true })
          } catch (error) {
            throw gcsDeliveryError(error, 'delete', key, place)
          }
        }
      }
      await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, keys.length) }, worker))
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
        const file = (await bucket()).file(key)
        signal?.throwIfAborted()
        await upload(
          file.createWriteStream({
            resumable: event.body.byteLength > config.resumableAbove,
            contentType: event.contentType,
            metadata: { contentType: event.contentType, metadata: objectMetadata(event) },
          }),
          event.body,
          signal,
        )
      } catch (error) {
        if (signal?.aborted) throw signal.reason
        throw gcsDeliveryError(error, 'write', key, place)
      }
      if (!signal?.aborted) await retention?.afterPut(event, key)
    },
    async check() {
      try {
        const [exists] = await (await bucket()).exists()
        return exists ? undefined : `bucket gs://${config.bucket} does not exist: create it or fix sinks.${name}.bucket`
      } catch (error) {
        return gcsDeliveryError(error, 'list', undefined, place).message
      }
    },
    async urlFor(event: HookEvent) {
      const key = renderKey(config.key, event)
      if (config.publicBaseUrl) return publicUrl(config.publicBaseUrl, key)
      const client = await storage()
      // An emulator has no identity to sign with; asking ADC would go looking for one on the network.
      if (client.customEndpoint && !config.keyFilename) {
        throw new Error(
          `sinks.${name}: cannot sign URLs for ${client.apiEndpoint} without a service account key: set sinks.${name}.keyFilename or sinks.${name}.publicBaseUrl`,
        )
      }
      try {
        const [url] = await client
          .bucket(config.bucket)
          .file(key)
          .getSignedUrl({
            version: 'v4',
            action: 'read',
            expires: Date.now() + config.urlExpiry,
          })
        return url
      } catch (error) {
        throw new Error(
          `sinks.${name}: cannot sign a URL for gs://${config.bucket}/${key}: ${(error as Error).message}; use a service account key (keyFilename), a service account allowed iam.serviceAccounts.signBlob, or set sinks.${name}.publicBaseUrl`,
          { cause: error },
        )
      }
    },
  }
}

/**
 * Sends `body` through an upload stream (what `File.save` does), destroying the stream when `signal` aborts: a
 * timed-out or shut-down attempt must stop writing, so it never races the retry that follows it.
 */
function upload(stream: Writable, body: Uint8Array, signal: AbortSignal | undefined): Promise<void> {
  const onAbort = () => stream.destroy(signal!.reason instanceof Error ? signal!.reason : new Error('aborted'))
  signal?.addEventListener('abort', onAbort, { once: true })
  return new Promise<void>((resolve, reject) => {
    stream.once('error', reject).once('finish', resolve)
    stream.end(Buffer.from(body.buffer, body.byteOffset, body.byteLength))
  }).finally(() => signal?.removeEventListener('abort', onAbort))
}
