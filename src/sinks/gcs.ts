/**
 * The Google Cloud Storage sink.
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
import type { GcsSinkConfig } from '../config/gcs-sink.ts'
import { objectMetadata } from './object-metadata.ts'
import type { StoredObject } from './retention.ts'
import { gcsDeliveryError, type GcsPlace } from './gcs-errors.ts'
import { cloudSink, type CloudBucket } from './cloud-sink.ts'
import type { Sink, SinkOptions } from './types.ts'

/** Deletes in flight at once during a retention sweep (the JSON API deletes one object per request). */
const DELETE_CONCURRENCY = 8

/** What the steps below share. */
interface GcsSinkContext {
  name: string
  config: GcsSinkConfig
  /** Where failures happened, for their messages. */
  place: GcsPlace
  storage(): Promise<Storage>
}

export function createGcsSink(name: string, config: GcsSinkConfig, options: SinkOptions = {}): Sink {
  const place: GcsPlace = { sink: name, bucket: config.bucket, keyFilename: config.keyFilename }
  const ctx: GcsSinkContext = { name, config, place, storage: lazyStorage(config) }
  const bucket: CloudBucket = {
    list: (prefix) => listFiles(ctx, prefix),
    remove: (keys) => removeFiles(ctx, keys),
    write: (key, event, signal) => writeEvent(ctx, key, event, signal),
    writeError: (error, key) => gcsDeliveryError(error, 'write', key, place),
    signedUrl: (key) => signedUrl(ctx, key),
    check: () => checkBucket(ctx),
  }
  return cloudSink(name, config, bucket, options)
}

/** Loads the library and builds the client on first use; a failed load is tried again next time. */
function lazyStorage(config: GcsSinkConfig): () => Promise<Storage> {
  let loading: Promise<Storage> | undefined
  return () => {
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
}

async function writeEvent(
  ctx: GcsSinkContext,
  key: string,
  event: HookEvent,
  signal: AbortSignal | undefined,
): Promise<void> {
  const file = (await ctx.storage()).bucket(ctx.config.bucket).file(key)
  signal?.throwIfAborted()
  await upload(
    file.createWriteStream({
      resumable: event.body.byteLength > ctx.config.resumableAbove,
      contentType: event.contentType,
      metadata: { contentType: event.contentType, metadata: objectMetadata(event) },
    }),
    event.body,
    signal,
  )
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

async function listFiles(ctx: GcsSinkContext, prefix: string): Promise<StoredObject[]> {
  try {
    const [files] = await (await ctx.storage()).bucket(ctx.config.bucket).getFiles({ prefix, autoPaginate: true })
    return files.map((file) => ({
      key: file.name,
      // The live generation's creation is when this object was last written (what lifecycle "age" counts too).
      modified: Date.parse(String(file.metadata.timeCreated ?? file.metadata.updated ?? 0)) || 0,
    }))
  } catch (error) {
    throw gcsDeliveryError(error, 'list', prefix, ctx.place)
  }
}

async function removeFiles(ctx: GcsSinkContext, keys: string[]): Promise<void> {
  const target = (await ctx.storage()).bucket(ctx.config.bucket)
  const pending = [...keys]
  const worker = async () => {
    for (let key = pending.shift(); key !== undefined; key = pending.shift()) {
      try {
        await target.file(key).delete({ ignoreNotFound: true })
      } catch (error) {
        throw gcsDeliveryError(error, 'delete', key, ctx.place)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, keys.length) }, worker))
}

async function checkBucket(ctx: GcsSinkContext): Promise<string | undefined> {
  const { name, config } = ctx
  try {
    const [exists] = await (await ctx.storage()).bucket(config.bucket).exists()
    return exists ? undefined : `bucket gs://${config.bucket} does not exist: create it or fix sinks.${name}.bucket`
  } catch (error) {
    return gcsDeliveryError(error, 'list', undefined, ctx.place).message
  }
}

async function signedUrl(ctx: GcsSinkContext, key: string): Promise<string> {
  const { name, config } = ctx
  const client = await ctx.storage()
  // An emulator has no identity to sign with; asking ADC would go looking for one on the network.
  if (client.customEndpoint && !config.keyFilename) {
    throw new Error(
      `sinks.${name}: cannot sign URLs for ${client.apiEndpoint} without a service account key: ` +
        `set sinks.${name}.keyFilename or sinks.${name}.publicBaseUrl`,
    )
  }
  try {
    const [url] = await client
      .bucket(config.bucket)
      .file(key)
      .getSignedUrl({ version: 'v4', action: 'read', expires: Date.now() + config.urlExpiry })
    return url
  } catch (error) {
    throw new Error(
      `sinks.${name}: cannot sign a URL for gs://${config.bucket}/${key}: ${(error as Error).message}; ` +
        'use a service account key (keyFilename), a service account allowed iam.serviceAccounts.signBlob, ' +
        `or set sinks.${name}.publicBaseUrl`,
      { cause: error },
    )
  }
}
