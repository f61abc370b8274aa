/**
 * The dedup window in a NATS KV bucket shared by every instance: one key per id (a hash of it), and the bucket's max
 * age is the window, so the server forgets an id once it has passed. `remember` is `kv.create`, which fails when the
 * key is there: of several instances seeing one id at once, exactly one is told it is new.
 * @module
 */
import type { NatsConnection } from '@nats-io/transport-node'
import type { DedupWindow } from '../../queue/dedup.ts'
import { streamKey } from '../../streams/stream-key.ts'
import { isWrongRevision, lazyBucket } from './kv-buckets.ts'

export interface NatsDedupOptions {
  /** A connection the caller owns. */
  nc: NatsConnection
  /** How long an id is remembered, ms (0: no window, every delivery is new). */
  windowMs: number
  /** KV bucket (default `hookcast-dedup`). */
  bucket?: string
  /** Copies of the bucket in a JetStream cluster (default 1). */
  replicas?: number
}

const NATS_DEDUP_DEFAULTS = { bucket: 'hookcast-dedup', replicas: 1 }

/** The key of a delivery id: 128 bits of SHA-256 in hex (any id, a KV key's few characters). */
const keyOf = streamKey

export function natsDedupWindow(options: NatsDedupOptions): DedupWindow {
  const bucket = lazyBucket(options.nc, options.bucket ?? NATS_DEDUP_DEFAULTS.bucket, {
    replicas: options.replicas ?? NATS_DEDUP_DEFAULTS.replicas,
    maxValueSize: 64,
    ttlMs: options.windowMs,
    description: 'hookcast: delivery ids seen within the dedup window',
  })

  return {
    async remember(id) {
      if (options.windowMs <= 0) return true
      try {
        await (await bucket()).create(keyOf(id), '')
        return true
      } catch (error) {
        if (isWrongRevision(error)) return false
        throw error
      }
    },
    async forget(id) {
      if (options.windowMs <= 0) return
      await (await bucket()).delete(keyOf(id))
    },
    async has(id) {
      if (options.windowMs <= 0) return false
      const entry = await (await bucket()).get(keyOf(id))
      return entry !== null && entry.operation === 'PUT'
    },
  }
}
