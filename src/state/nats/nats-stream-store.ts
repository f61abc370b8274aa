/**
 * The stream store in NATS KV, shared by every instance on one NATS: one value per stream in the bucket
 * `hookcast-streams`, under a 128-bit hash of the stream id in hex (KV keys allow few characters, and any id then
 * fits), holding the record as JSON; the record's revision is the KV revision (the JetStream sequence), so a
 * revision never comes back for a stream deleted and made again. Thumbnails are in a second bucket
 * (nats-thumbnails.ts).
 *
 * - `put(…, null)` is `kv.create` and `put(…, revision)` is `kv.update` at that revision: the server compares and
 *   sets, so writers on several instances never lose a change.
 * - `delete` removes the stored message of the revision it read (a JetStream message delete, which fails once a
 *   later write replaced it): a compare-and-delete that leaves no delete marker behind.
 *
 * Bounds, as the local store has them, kept without a lock shared by the instances:
 * - `maxStreams` is the bucket's `max_msgs`, which the server enforces: a new stream past it is refused there, then
 *   ended streams are evicted (a batch of the oldest, found by a scan of the bucket) and the creation is tried once
 *   more; a live or ending stream is never evicted, so when none can go the stream is refused (`StreamLimitError`).
 *   Instances evicting at once may each evict a batch.
 * - Ended streams are forgotten `keepEndedMs` after their last change by a sweep each instance runs (at start and
 *   periodically); its deletes are compare-and-delete, so sweeps racing with writers forget nothing live.
 * - `maxThumbnailBytes` is the thumbnail bucket's `max_bytes` (it counts keys and chunk overhead too); a thumbnail
 *   refused there takes the room of ended streams' thumbnails, oldest first, else `putThumbnail` resolves false.
 * - `lazy` puts are written at once, like every other (the server's ack is the durability).
 * @module
 */
import type { NatsConnection } from '@nats-io/transport-node'
import type { KvEntry } from '@nats-io/kv'
import type { StreamStore, VersionedRecord } from '../stream-store.ts'
import { STREAM_LIMITS, StreamLimitError, type StreamRecord } from '../../streams/types.ts'
import { normaliseRecord } from '../../streams/record.ts'
import type { Logger } from '../../log.ts'
import { STREAM_STORE_DEFAULTS } from '../local-stream-store.ts'
import { streamKey } from '../local-streams/record-files.ts'
import { EVENT_ID } from '../local-streams/thumbnail-files.ts'
import { isBucketFull, isNoMessage, isWrongRevision, openBucket, parseRevision } from './buckets.ts'
import { openNatsThumbnails } from './nats-thumbnails.ts'

export interface NatsStreamStoreOptions {
  /** A connection the caller owns (and closes after the store). */
  nc: NatsConnection
  log: Logger
  now?: () => number
  /** KV bucket of stream records (default `hookcast-streams`). */
  bucket?: string
  /** KV bucket of thumbnail bytes (default `hookcast-thumbnails`). */
  thumbnailBucket?: string
  /** Copies of each bucket in a JetStream cluster (default 1; 3 in production). */
  replicas?: number
  /** Largest record, bytes (default 1 MiB; a record is a few KiB). */
  maxRecordBytes?: number
  /** Stream records kept at most (default 10,000). */
  maxStreams?: number
  /** Ended streams are forgotten this long after their last change (default 7 days). */
  keepEndedMs?: number
  /** Bytes of the thumbnail bucket at most (default 512 MiB). */
  maxThumbnailBytes?: number
  /** Thumbnails are stored in chunks of this many bytes at most (default 256 KiB). */
  thumbnailChunkBytes?: number
  /** How often this instance sweeps ended streams (default: an hour, or keepEndedMs / 4 if less). */
  sweepEveryMs?: number
  /** A background step failed (it is retried); for metrics. */
  onBackgroundFailure?(task: string): void
  /** A bound was hit (`streams_full`, `stream_evicted`, `stream_expired`, `thumbnail_bytes`, `stream_id_too_long`); for metrics. */
  onLimit?(limit: string): void
}

export interface NatsStreamStore extends StreamStore {
  /** Forgets ended streams past `keepEndedMs` and thumbnails of streams with no record; resolves how many records went. */
  sweep(): Promise<number>
  stats(): Promise<{ streams: number; thumbnailBytes: number }>
}

export const NATS_STREAM_STORE_DEFAULTS = {
  bucket: 'hookcast-streams',
  thumbnailBucket: 'hookcast-thumbnails',
  replicas: 1,
  maxRecordBytes: 1024 * 1024,
}

/** Thumbnails of a stream with no record are left alone this long (its record may be on its way). */
const LOOSE_GRACE_MS = 60_000
/** Records whose revision `get` handed out, remembered to know what a `put` at that revision replaces. */
const SEEN_MAX = 4_096
/** How long a scan that freed nothing is not run again. */
const FRUITLESS_MS = 10_000
/** Tries of a delete without a revision, when writers keep replacing the record. */
const DELETE_TRIES = 8

/** A record as read, with its revision and when the server stored that revision (epoch ms). */
interface Stored { record: StreamRecord; revision: number; at: number }

export async function openNatsStreamStore(options: NatsStreamStoreOptions): Promise<NatsStreamStore> {
  const { log, nc } = options
  const now = options.now ?? Date.now
  const replicas = options.replicas ?? NATS_STREAM_STORE_DEFAULTS.replicas
  const maxStreams = Math.max(1, options.maxStreams ?? STREAM_STORE_DEFAULTS.maxStreams)
  const keepEndedMs = options.keepEndedMs ?? STREAM_STORE_DEFAULTS.keepEndedMs
  const bucket = await openBucket(nc, options.bucket ?? NATS_STREAM_STORE_DEFAULTS.bucket, {
    replicas,
    maxValueSize: options.maxRecordBytes ?? NATS_STREAM_STORE_DEFAULTS.maxRecordBytes,
    maxValues: maxStreams,
    description: 'hookcast: stream state (one record per stream)',
  })
  const { kv, jsm, stream } = bucket
  const thumbs = await openNatsThumbnails({
    nc,
    bucket: options.thumbnailBucket ?? NATS_STREAM_STORE_DEFAULTS.thumbnailBucket,
    replicas,
    maxBytes: options.maxThumbnailBytes ?? STREAM_STORE_DEFAULTS.maxThumbnailBytes,
    ...(options.thumbnailChunkBytes ? { chunkBytes: options.thumbnailChunkBytes } : {}),
  })

  const count = (callback: ((what: string) => void) | undefined, what: string) => {
    try {
      callback?.(what)
    } catch {
      // a metrics callback must not turn a logged failure into a crash
    }
  }
  const failed = (task: string, message: string, fields: Record<string, unknown>, error: unknown) => {
    log.error(message, { ...fields, error: String(error) })
    count(options.onBackgroundFailure, task)
  }
  const limit = (what: string) => count(options.onLimit, what)

  const encode = (record: StreamRecord) => JSON.stringify(record)
  function decode(entry: KvEntry): Stored | undefined {
    try {
      const record = normaliseRecord(entry.json(), now())
      return record && streamKey(record.streamId) === entry.key ? { record, revision: entry.revision, at: entry.created.getTime() } : undefined
    } catch {
      return undefined
    }
  }
  async function read(streamId: string): Promise<Stored | undefined> {
    const entry = await kv.get(streamKey(streamId))
    if (!entry || entry.operation !== 'PUT') return undefined
    const stored = decode(entry)
    if (!stored || stored.record.streamId !== streamId) throw new Error(`stream state of ${streamId.slice(0, 100)} is not a record of it (revision ${entry.revision})`)
    return stored
  }
  /** Every record with its revision (one pass over the bucket; a record changed meanwhile may come twice: the last counts). */
  async function scan(): Promise<Stored[]> {
    const out = new Map<string, Stored>()
    for await (const entry of await kv.history()) {
      if (entry.operation !== 'PUT') continue
      const stored = decode(entry)
      if (!stored) log.error('a stream state value is not a stream record; left alone', { key: entry.key, revision: entry.revision })
      else if (stored.revision > (out.get(entry.key)?.revision ?? 0)) out.set(entry.key, stored)
    }
    return [...out.values()]
  }
  /**
   * A scan that freed nothing (every stream live) is not run again for a while: when the bucket is full of live
   * streams, every new stream or thumbnail would otherwise read the whole bucket.
   */
  const fruitless = { evict: 0, thumbnails: 0 }

  // What the record at a revision refers to, so a put that drops a thumbnail removes it.
  const seen = new Map<string, { revision: number; refs: string[] }>()
  const refsOf = (record: StreamRecord | undefined) => [...new Set([record?.firstThumbnail?.eventId, record?.latestThumbnail?.eventId])]
    .filter((id): id is string => id !== undefined)
  const remember = (stored: Pick<Stored, 'record' | 'revision'>) => {
    seen.delete(stored.record.streamId)
    seen.set(stored.record.streamId, { revision: stored.revision, refs: refsOf(stored.record) })
    if (seen.size > SEEN_MAX) seen.delete(seen.keys().next().value!)
  }

  /**
   * Deletes the stream at exactly `revision`, then the thumbnails stored before that revision (later ones may be a
   * new session's, whose record is being made on another instance); false when that revision is not stored.
   */
  async function deleteAt({ record: { streamId }, revision, at }: Stored): Promise<boolean> {
    try {
      await jsm.streams.deleteMessage(stream, revision, false)
    } catch (error) {
      if (isNoMessage(error)) return false
      throw error
    }
    seen.delete(streamId)
    await thumbs.removeStoredBefore(streamKey(streamId), at)
      .catch((error) => failed('thumbnail-remove', 'cannot remove a forgotten stream\'s thumbnails; the sweep retries', { stream: streamId }, error))
    return true
  }

  /** Ended streams, in the order they give up their place: those that never went live first, then oldest change first. */
  const endedFirst = (records: Stored[]) => records
    .filter(({ record }) => record.status === 'ended')
    .sort((a, b) => Number(!!a.record.session) - Number(!!b.record.session) || a.record.updatedAt - b.record.updatedAt)

  /** Evicts a batch of ended streams to make room for new ones; resolves how many went. */
  async function evict(except: string): Promise<number> {
    if (Date.now() < fruitless.evict) return 0
    const batch = Math.min(64, Math.max(1, Math.ceil(maxStreams / 100)))
    let evicted = 0
    for (const stored of endedFirst(await scan())) {
      const { record } = stored
      if (evicted >= batch) break
      if (record.streamId === except || !(await deleteAt(stored))) continue
      log.info('stream state full: forgetting an ended stream', { stream: record.streamId, maxStreams })
      limit('stream_evicted')
      evicted++
    }
    if (evicted === 0) fruitless.evict = Date.now() + FRUITLESS_MS
    return evicted
  }

  /** Frees at least `needed` bytes of ended streams' thumbnails (oldest first); resolves what it freed. */
  async function freeThumbnailBytes(needed: number, except: string): Promise<number> {
    if (Date.now() < fruitless.thumbnails) return 0
    let freed = 0
    for (const stored of endedFirst(await scan())) {
      const { record, revision } = stored
      if (freed >= needed) break
      const refs = refsOf(record)
      if (record.streamId === except || refs.length === 0) continue
      const key = streamKey(record.streamId)
      const sizes = await Promise.all(refs.map((eventId) => thumbs.head(key, eventId)))
      if (!record.session) {
        // Known from thumbnails alone: nothing left worth keeping.
        if (await deleteAt(stored)) freed += sizes.reduce((sum, head) => sum + (head?.size ?? 0), 0)
        continue
      }
      delete record.firstThumbnail
      delete record.latestThumbnail
      try {
        await kv.update(key, encode(record), revision) // its age stays: updatedAt is not stamped
      } catch (error) {
        if (isWrongRevision(error)) continue // changed meanwhile: no longer the one to give way
        throw error
      }
      for (const eventId of refs) await thumbs.remove(key, eventId)
      freed += sizes.reduce((sum, head) => sum + (head?.size ?? 0), 0)
    }
    if (freed === 0) fruitless.thumbnails = Date.now() + FRUITLESS_MS
    return freed
  }

  /** Creates a record, making room once when the bucket is full of them. */
  async function create(streamId: string, record: StreamRecord): Promise<number | 'conflict'> {
    if (streamId.length > STREAM_LIMITS.streamIdLength) {
      limit('stream_id_too_long')
      throw new StreamLimitError('stream_id_too_long', `a stream id of ${streamId.length} characters is not kept`)
    }
    for (let attempt = 0; ; attempt++) {
      try {
        return await kv.create(streamKey(streamId), encode(record))
      } catch (error) {
        if (isWrongRevision(error)) return 'conflict'
        if (!isBucketFull(error)) throw error
      }
      if (attempt === 0 && (await evict(streamId)) > 0) continue
      // Room made by another instance's eviction is taken by the next stream that comes.
      limit('streams_full')
      log.warn('stream state full of live streams: a new stream is not tracked (raise streams.maxStreams)', { stream: streamId.slice(0, 100), maxStreams })
      await thumbs.removeStream(streamKey(streamId)).catch(() => {})
      throw new StreamLimitError('streams_full', `stream state full: every one of the ${maxStreams} stream records is a live stream`)
    }
  }

  async function sweep(): Promise<number> {
    const cutoff = now() - keepEndedMs
    const records = await scan()
    let expired = 0
    for (const stored of endedFirst(records)) {
      if (stored.record.updatedAt >= cutoff || !(await deleteAt(stored))) continue
      limit('stream_expired')
      expired++
    }
    // Thumbnails whose stream has no record: refused, forgotten while one was being written, or a crash between.
    const known = new Set(records.map(({ record }) => streamKey(record.streamId)))
    for (const key of await thumbs.streams()) {
      if (known.has(key) || (await kv.get(key))?.operation === 'PUT') continue
      await thumbs.removeStoredBefore(key, Date.now() - LOOSE_GRACE_MS) // the server's clock, not the records'
    }
    if (expired > 0) log.info('forgot ended streams past streams.keepEnded', { streams: expired })
    return expired
  }
  await sweep().catch((error) => failed('sweep', 'cannot sweep the stream state; trying again later', {}, error))
  const sweepEveryMs = options.sweepEveryMs ?? Math.max(1_000, Math.min(3_600_000, keepEndedMs / 4))
  const sweepTimer = setInterval(() => {
    sweep().catch((error) => failed('sweep', 'cannot sweep the stream state; trying again later', {}, error))
  }, sweepEveryMs)
  ;(sweepTimer as { unref?: () => void }).unref?.()

  return {
    async get(streamId) {
      const stored = await read(streamId)
      if (!stored) return undefined
      remember(stored)
      return { record: stored.record, revision: String(stored.revision) } satisfies VersionedRecord
    },
    async put(streamId, record, expected) {
      if (record.streamId !== streamId) throw new Error('a record is put under its own stream id')
      record.updatedAt = now()
      if (expected === null) {
        const revision = await create(streamId, record)
        if (revision === 'conflict') return revision
        remember({ record, revision })
        return String(revision)
      }
      const at = parseRevision(expected)
      if (at === undefined) return 'conflict'
      // What the replaced revision referred to: known from the `get` that handed it out, else read (and if it is
      // no longer the last, the write would fail anyway).
      let before = seen.get(streamId)
      if (before?.revision !== at) {
        const current = await read(streamId)
        if (current?.revision !== at) return 'conflict'
        before = { revision: at, refs: refsOf(current.record) }
      }
      let revision: number
      try {
        revision = await kv.update(streamKey(streamId), encode(record), at)
      } catch (error) {
        if (isWrongRevision(error)) return 'conflict'
        throw error
      }
      remember({ record, revision })
      // Thumbnails the record no longer refers to go (after the record that drops them is written).
      const after = new Set(refsOf(record))
      for (const eventId of before.refs) {
        if (after.has(eventId)) continue
        await thumbs.remove(streamKey(streamId), eventId)
          .catch((error) => failed('thumbnail-remove', 'cannot remove a replaced thumbnail; it goes with its stream', { stream: streamId }, error))
      }
      return String(revision)
    },
    async list() {
      return (await scan()).map(({ record }) => record)
    },
    async delete(streamId, expected) {
      const at = expected === undefined ? undefined : parseRevision(expected)
      for (let attempt = 0; attempt < DELETE_TRIES; attempt++) {
        const current = await read(streamId)
        if (!current) return false
        if (expected !== undefined && current.revision !== at) return 'conflict'
        if (await deleteAt(current)) return true
        if (expected !== undefined) return 'conflict' // replaced between the read and the delete
      }
      throw new Error(`stream state of ${streamId.slice(0, 100)}: still changed by others after ${DELETE_TRIES} tries to delete it`)
    },
    async putThumbnail(ref, bytes) {
      const streamId = ref.event.streamId ?? ''
      if (!EVENT_ID.test(ref.eventId)) throw new Error(`not an event id: ${ref.eventId.slice(0, 80)}`)
      if (streamId.length > STREAM_LIMITS.streamIdLength) {
        limit('stream_id_too_long')
        return false
      }
      const key = streamKey(streamId)
      for (let attempt = 0; attempt < 3; attempt++) {
        if ((await thumbs.put(key, ref.eventId, bytes)) === 'stored') return true
        // Each chunk and head carries a subject and headers that count against the budget too.
        if (attempt < 2 && (await freeThumbnailBytes(bytes.byteLength + 64 * 1024, streamId)) === 0) break
      }
      limit('thumbnail_bytes')
      log.warn('thumbnail storage full of live streams\' thumbnails: one is not kept (raise streams.maxThumbnailBytes)', {
        stream: streamId.slice(0, 100), bytes: bytes.byteLength,
      })
      return false
    },
    async thumbnail(streamId, eventId) {
      if (!EVENT_ID.test(eventId)) return undefined
      return thumbs.get(streamKey(streamId), eventId)
    },
    sweep,
    async stats() {
      const [info, thumbnailBytes] = await Promise.all([jsm.streams.info(stream), thumbs.bytes()])
      return { streams: info.state.messages, thumbnailBytes }
    },
    async close() {
      clearInterval(sweepTimer)
    },
  }
}
