/**
 * The shape of the cloud sinks (s3, gcs): each event is one object, keyed by the template, so a redelivery
 * overwrites it with the same bytes; retention runs after each object stored; `urlFor` answers a public URL when the
 * config gives a base, else the bucket's signed one. Each sink brings only how its bucket is written and read.
 * @module
 */
import type { HookEvent } from '../events/types.ts'
import type { DeliveryError } from '../destinations/types.ts'
import type { RetentionConfig } from '../config/retention.ts'
import { renderKey } from '../template/key.ts'
import { silentLogger } from '../log.ts'
import { publicUrl } from './object-urls.ts'
import { createRetention, type RetentionStore } from './retention.ts'
import type { Sink, SinkOptions } from './types.ts'

/** What a cloud sink does with its bucket. */
export interface CloudBucket extends RetentionStore {
  /** Stores the event's body under `key`; stops writing when `signal` aborts. */
  write(key: string, event: HookEvent, signal: AbortSignal | undefined): Promise<void>
  /** A failure of `write`, classified for the spool. */
  writeError(error: unknown, key: string): DeliveryError
  /** A URL, signed for a while, from which anyone can read `key`. */
  signedUrl(key: string): Promise<string>
  /** What is wrong with the bucket, as `Destination.check` says it. */
  check(): Promise<string | undefined>
  close?(): Promise<void>
}

/** The settings every cloud sink's config has. */
interface CloudSinkConfig {
  key: string
  publicBaseUrl?: string | undefined
  retention?: RetentionConfig | undefined
}

export function cloudSink(name: string, config: CloudSinkConfig, bucket: CloudBucket, options: SinkOptions): Sink {
  const retention =
    config.retention &&
    createRetention(config.retention, config.key, bucket, {
      sink: name,
      log: options.log ?? silentLogger,
      now: options.now ?? Date.now,
    })
  const close = bucket.close?.bind(bucket)

  return {
    name,
    kind: 'sink',
    concurrency: 16,
    keyFor: (event) => renderKey(config.key, event),
    async deliver(event: HookEvent, signal?: AbortSignal) {
      const key = renderKey(config.key, event)
      try {
        await bucket.write(key, event, signal)
      } catch (error) {
        if (signal?.aborted) throw signal.reason
        throw bucket.writeError(error, key)
      }
      if (!signal?.aborted) await retention?.afterPut(event, key)
    },
    async urlFor(event: HookEvent) {
      const key = renderKey(config.key, event)
      if (config.publicBaseUrl) return publicUrl(config.publicBaseUrl, key)
      return bucket.signedUrl(key)
    },
    check: () => bucket.check(),
    ...(close ? { close } : {}),
  }
}
