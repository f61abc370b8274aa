/**
 * The thumbnail-link signing key in a NATS KV bucket (`hookcast-keys`, key `url-signing-key`, base64), so every
 * instance signs and checks links with the same key: `kv.create` makes it only when absent, and whoever loses the
 * race reads back the key that won. A value that holds no usable key is replaced by compare-and-set, once.
 * @module
 */
import type { NatsConnection } from '@nats-io/transport-node'
import { decodeBase64, toBase64 } from '../../util/encoding.ts'
import { newSigningKey, SIGNING_KEY_BYTES, type SigningKeyStore } from '../../streams/signing-key.ts'
import { isWrongRevision, lazyBucket } from './kv-buckets.ts'

export interface NatsSigningKeyOptions {
  /** A connection the caller owns. */
  nc: NatsConnection
  /** KV bucket (default `hookcast-keys`). */
  bucket?: string
  /** Key in the bucket (default `url-signing-key`). */
  key?: string
  /** Copies of the bucket in a JetStream cluster (default 1). */
  replicas?: number
}

const NATS_SIGNING_KEY_DEFAULTS = { bucket: 'hookcast-keys', key: 'url-signing-key', replicas: 1 }

/** A try to read, else create, the key: a writer that keeps replacing an unusable value gives up after this many. */
const TRIES = 4

export function natsSigningKeyStore(options: NatsSigningKeyOptions): SigningKeyStore {
  const key = options.key ?? NATS_SIGNING_KEY_DEFAULTS.key
  const bucket = lazyBucket(
    options.nc,
    options.bucket ?? NATS_SIGNING_KEY_DEFAULTS.bucket,
    {
      replicas: options.replicas ?? NATS_SIGNING_KEY_DEFAULTS.replicas,
      maxValueSize: 1024,
      description: 'hookcast: keys shared by every instance (thumbnail-link signing)',
    },
    // Read at start, which waits for it.
    'patient',
  )

  return {
    async getOrCreate() {
      const kv = await bucket()
      for (let attempt = 0; attempt < TRIES; attempt++) {
        const entry = await kv.get(key)
        const stored = entry?.operation === 'PUT' ? decodeBase64(entry.string().trim()) : undefined
        if (stored && stored.byteLength >= SIGNING_KEY_BYTES) return stored
        const value = toBase64(newSigningKey())
        try {
          // Absent (or deleted): create it; there but unusable: replace exactly what was read.
          if (entry?.operation === 'PUT') await kv.update(key, value, entry.revision)
          else await kv.create(key, value)
        } catch (error) {
          if (!isWrongRevision(error)) throw error
        }
        // Read back whichever write won.
      }
      throw new Error(`cannot read back the thumbnail-link signing key in NATS KV (${key})`)
    },
  }
}
