/**
 * The stream store in S3, for hookcast on AWS Lambda: concurrent invocations share the state through the bucket,
 * and S3's conditional requests do the compare-and-set.
 *
 * - `<prefix>/streams/<key>`: one object per stream (`key`: 128 bits of SHA-256 of the stream id in hex, as the
 *   local and NATS stores name theirs, so any id fits an S3 key), holding `{ rev, record }` as JSON. The record's
 *   revision is the object's ETag; `rev` is random per write, so no two writes share an ETag (S3's ETag is the
 *   MD5 of the bytes) and a stream deleted and made again never takes an old revision.
 * - `put(…, null)` is a PutObject with `If-None-Match: *`, `put(…, revision)` one with `If-Match: revision`; a
 *   failed precondition is a `conflict`. A write refused on its retry (after a 5xx that came after it landed) is
 *   recognised by its `rev`.
 * - `delete` is a DeleteObject with `If-Match` on the revision read (or given), then removes the stream's
 *   thumbnails stored no later than a second after that revision (S3 gives times in whole seconds: one stored
 *   within that second by a new session on another invocation may go too; its record then refers to a thumbnail
 *   that is gone, as after a crash, and the alert goes without its picture).
 * - `<prefix>/thumbnails/<key>/<eventId>`: thumbnail bytes. Past `spareThumbnails` beyond the two a record refers
 *   to, the oldest of a stream go when the next is put.
 *
 * Not here (the lead's to add where Lambda needs them): the local and NATS stores' bounds (maxStreams, keepEnded,
 * maxThumbnailBytes) and their sweep. An S3 lifecycle rule on `<prefix>/thumbnails/` bounds the bytes meanwhile.
 * `lazy` puts are written at once, like every other.
 * @module
 */
import type { StreamStore, VersionedRecord } from '../stream-store.ts'
import { normaliseRecord } from '../../streams/record.ts'
import { STREAM_LIMITS, StreamLimitError, type StreamRecord } from '../../streams/types.ts'
import { streamKey } from '../local-streams/record-files.ts'
import { encodeSegment } from '../../queue/s3/keys.ts'
import { s3Objects, type ListedObject, type S3Connection } from '../../queue/s3/objects.ts'

export interface S3StreamStoreOptions extends S3Connection {
  /** Every key starts with `<prefix>/`. Default `hookcast`. */
  prefix?: string
  /** Thumbnails kept per stream beyond those its record refers to (oldest go first). Default 8. */
  spareThumbnails?: number
  now?: () => number
}

interface Stored {
  record: StreamRecord
  etag: string
  rev: string
  /** Epoch ms (whole seconds: S3's Last-Modified). */
  lastModified: number
}

/** Tries of a delete without a revision while writers keep replacing the record. */
const DELETE_TRIES = 8
const encoder = new TextEncoder()
const decoder = new TextDecoder()

export function openS3StreamStore(options: S3StreamStoreOptions): StreamStore {
  const now = options.now ?? Date.now
  const spare = Math.max(0, options.spareThumbnails ?? 8)
  const objects = s3Objects(options)
  const trimmed = (options.prefix ?? 'hookcast').replace(/^\/+|\/+$/g, '')
  const root = trimmed ? `${trimmed}/` : ''
  const recordKey = (streamId: string) => `${root}streams/${streamKey(streamId)}`
  const thumbnails = (streamId: string) => `${root}thumbnails/${streamKey(streamId)}/`
  const thumbnailKey = (streamId: string, eventId: string) => `${thumbnails(streamId)}${encodeSegment(eventId)}`

  function decode(bytes: Uint8Array): { record: StreamRecord; rev: string } | undefined {
    try {
      const raw = JSON.parse(decoder.decode(bytes)) as { rev?: unknown; record?: unknown }
      const record = normaliseRecord(raw.record, now())
      return record && typeof raw.rev === 'string' ? { record, rev: raw.rev } : undefined
    } catch {
      return undefined
    }
  }

  async function read(key: string, streamId?: string): Promise<Stored | undefined> {
    const got = await objects.get(key)
    if (!got) return undefined
    const decoded = decode(got.body)
    if (!decoded || (streamId !== undefined && decoded.record.streamId !== streamId)) {
      throw new Error(`stream state s3://${objects.bucket}/${key} is not a record${streamId ? ` of ${streamId.slice(0, 100)}` : ''}`)
    }
    return { ...decoded, etag: got.etag, lastModified: got.lastModified }
  }

  /** Removes the stream's thumbnails stored no later than `until` (epoch ms). */
  async function removeThumbnails(streamId: string, until: number): Promise<void> {
    for await (const object of objects.list(thumbnails(streamId))) {
      if (object.lastModified <= until) await objects.delete(object.key)
    }
  }

  return {
    async get(streamId) {
      const stored = await read(recordKey(streamId), streamId)
      return stored && { record: stored.record, revision: stored.etag } satisfies VersionedRecord
    },

    async put(streamId, record, expected) {
      if (record.streamId !== streamId) throw new Error('a record is put under its own stream id')
      if (expected === null && streamId.length > STREAM_LIMITS.streamIdLength) {
        throw new StreamLimitError('stream_id_too_long', `a stream id of ${streamId.length} characters is not kept`)
      }
      record.updatedAt = now()
      const key = recordKey(streamId)
      const rev = crypto.randomUUID()
      const etag = await objects.put(key, encoder.encode(JSON.stringify({ rev, record })), expected === null ? { ifNoneMatch: '*' } : { ifMatch: expected })
      if (etag !== 'conflict') return etag
      // Refused: another writer came first, unless this very write landed before a retry of it was refused.
      const stored = await read(key).catch(() => undefined)
      return stored?.rev === rev ? stored.etag : 'conflict'
    },

    async list() {
      const keys: ListedObject[] = []
      for await (const object of objects.list(`${root}streams/`)) keys.push(object)
      const records: StreamRecord[] = []
      for (let i = 0; i < keys.length; i += 16) {
        const batch = await Promise.all(keys.slice(i, i + 16).map((object) => read(object.key).catch(() => undefined)))
        for (const stored of batch) if (stored) records.push(stored.record)
      }
      return records
    },

    async delete(streamId, expected) {
      const key = recordKey(streamId)
      for (let attempt = 0; attempt < DELETE_TRIES; attempt++) {
        const stored = await read(key, streamId)
        if (!stored) return false
        if (expected !== undefined && stored.etag !== expected) return 'conflict'
        const outcome = await objects.delete(key, stored.etag)
        if (outcome === 'conflict') {
          if (expected !== undefined) return 'conflict'
          continue // changed meanwhile: delete whatever it is now
        }
        // S3's times are whole seconds, rounded differently by HEAD and LIST on some stores: a second of slack.
        await removeThumbnails(streamId, stored.lastModified + 1_000)
        return true
      }
      throw new Error(`stream state of ${streamId.slice(0, 100)}: still changed by others after ${DELETE_TRIES} tries to delete it`)
    },

    async putThumbnail(ref, bytes) {
      const streamId = ref.event.streamId ?? ''
      if (streamId.length > STREAM_LIMITS.streamIdLength) return false
      await objects.put(thumbnailKey(streamId, ref.eventId), bytes)
      const kept: ListedObject[] = []
      for await (const object of objects.list(thumbnails(streamId))) kept.push(object)
      if (kept.length > spare + 2) {
        const record = (await read(recordKey(streamId), streamId).catch(() => undefined))?.record
        // The record's two and `spare` others, the one just put among them (the record is about to refer to it).
        const referenced = new Set([record?.firstThumbnail?.eventId, record?.latestThumbnail?.eventId]
          .filter((id) => id !== undefined).map((id) => thumbnailKey(streamId, id)))
        const added = thumbnailKey(streamId, ref.eventId)
        const others = kept.filter((object) => !referenced.has(object.key) && object.key !== added)
          .sort((a, b) => a.lastModified - b.lastModified || (a.key < b.key ? -1 : 1))
        const room = Math.max(0, spare - (referenced.has(added) ? 0 : 1))
        for (const object of others.slice(0, Math.max(0, others.length - room))) await objects.delete(object.key)
      }
      return true
    },

    async thumbnail(streamId, eventId) {
      return (await objects.get(thumbnailKey(streamId, eventId)))?.body
    },

    async close() {
      objects.close()
    },
  }
}
