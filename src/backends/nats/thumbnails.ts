/**
 * Thumbnail bytes in a NATS KV bucket, for the NATS stream store. A full-resolution JPEG may be larger than the
 * server's `max_payload`, so a thumbnail is kept in chunks (`<stream key>.<event id>.<n>`), then a head
 * (`<stream key>.<event id>.h`) written last: a reader finds a head only once every chunk is stored. Keys are grouped
 * by stream, so one purge forgets all of a stream's thumbnails and leaves no delete markers. The bucket's
 * `max_bytes` is the byte budget: the server refuses a write past it, and the chunks written before are purged.
 * @module
 */
import type { NatsConnection } from '@nats-io/transport-node'
import { isBucketFull, openBucket, type Bucket } from './kv-buckets.ts'

interface NatsThumbnailsOptions {
  nc: NatsConnection
  bucket: string
  replicas: number
  maxBytes: number
  /** Bytes of one chunk (default 256 KiB; less when the server's max_payload is smaller). */
  chunkBytes?: number
}

interface ThumbnailHead {
  size: number
  chunks: number
}

export interface NatsThumbnails {
  /** Stores the bytes unless they are there already; `full` when the budget has no room (nothing is left behind). */
  put(streamKey: string, eventId: string, bytes: Uint8Array): Promise<'stored' | 'full'>
  get(streamKey: string, eventId: string): Promise<Uint8Array | undefined>
  head(streamKey: string, eventId: string): Promise<ThumbnailHead | undefined>
  remove(streamKey: string, eventId: string): Promise<void>
  /** Forgets every thumbnail of a stream. */
  removeStream(streamKey: string): Promise<void>
  /**
   * Forgets the thumbnails of a stream stored at or before `before` (the server's time, epoch ms); those stored
   * later are left alone (a new record may be on its way to refer to them).
   */
  removeStoredBefore(streamKey: string, before: number): Promise<void>
  /** Stream keys that have a thumbnail. */
  streams(): Promise<Set<string>>
  bytes(): Promise<number>
}

const DEFAULT_CHUNK_BYTES = 256 * 1024
/** Room left in a message for its subject and headers. */
const HEADROOM = 4 * 1024

export async function openNatsThumbnails(options: NatsThumbnailsOptions): Promise<NatsThumbnails> {
  const bucket: Bucket = await openBucket(options.nc, options.bucket, {
    replicas: options.replicas,
    maxValueSize: -1,
    maxBytes: options.maxBytes,
    description: 'hookcast: thumbnails of stream state (chunks and heads)',
  })
  const { kv, jsm, jetStream } = bucket
  const maxPayload = options.nc.info?.max_payload ?? 1024 * 1024
  const chunkBytes = Math.max(1024, Math.min(options.chunkBytes ?? DEFAULT_CHUNK_BYTES, maxPayload - HEADROOM))
  const prefix = (streamKey: string, eventId: string) => `${streamKey}.${eventId}`
  const purge = async (filter: string) => {
    await jsm.streams.purge(jetStream, { filter: bucket.subject(filter) })
  }

  async function head(streamKey: string, eventId: string): Promise<ThumbnailHead | undefined> {
    const entry = await kv.get(`${prefix(streamKey, eventId)}.h`)
    if (entry?.operation !== 'PUT') return undefined
    try {
      const parsed = entry.json<ThumbnailHead>()
      return Number.isSafeInteger(parsed.size) && Number.isSafeInteger(parsed.chunks) ? parsed : undefined
    } catch {
      return undefined
    }
  }

  return {
    async put(streamKey, eventId, bytes) {
      if (await head(streamKey, eventId)) return 'stored' // the same event: the same bytes
      const key = prefix(streamKey, eventId)
      const chunks = Math.max(1, Math.ceil(bytes.byteLength / chunkBytes))
      try {
        await Promise.all(
          Array.from({ length: chunks }, (_, i) =>
            kv.put(`${key}.${i}`, bytes.subarray(i * chunkBytes, (i + 1) * chunkBytes)),
          ),
        )
        await kv.put(`${key}.h`, JSON.stringify({ size: bytes.byteLength, chunks } satisfies ThumbnailHead))
        return 'stored'
      } catch (error) {
        await purge(`${key}.>`).catch(() => {}) // what landed before the refusal; the head never did
        if (isBucketFull(error)) return 'full'
        throw error
      }
    },
    async get(streamKey, eventId) {
      const found = await head(streamKey, eventId)
      if (!found) return undefined
      const key = prefix(streamKey, eventId)
      const parts = await Promise.all(Array.from({ length: found.chunks }, (_, i) => kv.get(`${key}.${i}`)))
      const out = new Uint8Array(found.size)
      let at = 0
      for (const part of parts) {
        if (part?.operation !== 'PUT' || at + part.value.byteLength > found.size) return undefined // removed meanwhile
        out.set(part.value, at)
        at += part.value.byteLength
      }
      return at === found.size ? out : undefined
    },
    head,
    remove: (streamKey, eventId) => purge(`${prefix(streamKey, eventId)}.>`),
    removeStream: (streamKey) => purge(`${streamKey}.>`),
    async removeStoredBefore(streamKey, before) {
      for await (const key of await kv.keys(`${streamKey}.*.h`)) {
        const entry = await kv.get(key)
        if (entry && entry.created.getTime() <= before) await purge(`${key.slice(0, -2)}.>`)
      }
    },
    async streams() {
      const out = new Set<string>()
      for await (const key of await kv.keys('*.*.h')) out.add(key.split('.')[0]!)
      return out
    },
    async bytes() {
      return (await jsm.streams.info(jetStream)).state.bytes
    },
  }
}
