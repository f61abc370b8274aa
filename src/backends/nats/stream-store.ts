/**
 * The stream store in NATS KV, shared by every instance on one NATS: one value per stream in the bucket
 * `hookcast-streams`, under a 128-bit hash of the stream id in hex (KV keys allow few characters, and any id then
 * fits), holding the record as JSON; the record's revision is the KV revision (the JetStream sequence), so a
 * revision never comes back for a stream deleted and made again. Thumbnails are in a second bucket
 * (thumbnails.ts).
 *
 * This file is the compare-and-set, and assembles the rest:
 * - `put(…, null)` is `kv.create` and `put(…, revision)` is `kv.update` at that revision: the server compares and
 *   sets, so writers on several instances never lose a change.
 * - `delete` removes the stored message of the revision it read (a JetStream message delete, which fails once a
 *   later write replaced it): a compare-and-delete that leaves no delete marker behind.
 * - `lazy` puts are written at once, like every other (the server's ack is the durability).
 *
 * Bounds, as the local store has them, kept without a lock shared by the instances: `maxStreams` and `keepEndedMs`
 * in eviction.ts (a creation refused for room is tried once more after an eviction), `maxThumbnailBytes` in
 * thumbnail-budget.ts. The records as stored, and what they refer to, are in stream-records.ts.
 * @module
 */
import type { NatsConnection } from '@nats-io/transport-node'
import type { StreamStore, VersionedRecord } from '../../streams/stream-store.ts'
import { checkStreamIdFits, StreamLimitError, type StreamRecord } from '../../streams/stream-types.ts'
import type { Logger } from '../../log.ts'
import { streamKey } from '../../streams/stream-key.ts'
import { isBucketFull, isWrongRevision, openBucket, parseRevision } from './buckets.ts'
import { streamEviction } from './eviction.ts'
import { openNatsThumbnails } from './thumbnails.ts'
import { storeReport } from '../../streams/store-report.ts'
import { encodeRecord, refsOf, streamRecords } from './stream-records.ts'
import { thumbnailBudget } from './thumbnail-budget.ts'
import { STREAM_STORE_DEFAULTS, EVENT_ID, deleteLatest } from '../../streams/stream-store.ts'

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

const NATS_STREAM_STORE_DEFAULTS = {
  bucket: 'hookcast-streams',
  thumbnailBucket: 'hookcast-thumbnails',
  replicas: 1,
  maxRecordBytes: 1024 * 1024,
}

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
  const report = storeReport(log, options)
  const records = streamRecords({ bucket, thumbs, report, log, now })
  const { evict, sweep } = streamEviction({ records, kv, thumbs, report, log, now, maxStreams, keepEndedMs })

  /** Creates a record, making room once when the bucket is full of them. */
  async function create(streamId: string, record: StreamRecord): Promise<number | 'conflict'> {
    checkStreamIdFits(streamId, (what) => report.limit(what))
    for (let attempt = 0; ; attempt++) {
      try {
        return await kv.create(streamKey(streamId), encodeRecord(record))
      } catch (error) {
        if (isWrongRevision(error)) return 'conflict'
        if (!isBucketFull(error)) throw error
      }
      if (attempt === 0 && (await evict(streamId)) > 0) continue
      // Room made by another instance's eviction is taken by the next stream that comes.
      report.limit('streams_full')
      log.warn('stream state full of live streams: a new stream is not tracked (raise streams.maxStreams)', {
        stream: streamId.slice(0, 100),
        maxStreams,
      })
      await thumbs.removeStream(streamKey(streamId)).catch(() => {})
      throw new StreamLimitError(
        'streams_full',
        `stream state full: every one of the ${maxStreams} stream records is a live stream`,
      )
    }
  }

  await sweep().catch((error) => report.failed('sweep', 'cannot sweep the stream state; trying again later', {}, error))
  const sweepEveryMs = options.sweepEveryMs ?? Math.max(1_000, Math.min(3_600_000, keepEndedMs / 4))
  const sweepTimer = setInterval(() => {
    sweep().catch((error) => report.failed('sweep', 'cannot sweep the stream state; trying again later', {}, error))
  }, sweepEveryMs)
  ;(sweepTimer as { unref?: () => void }).unref?.()

  return {
    async get(streamId) {
      const stored = await records.read(streamId)
      if (!stored) return undefined
      records.remember(stored)
      return { record: stored.record, revision: String(stored.revision) } satisfies VersionedRecord
    },
    async put(streamId, record, expected) {
      if (record.streamId !== streamId) throw new Error('a record is put under its own stream id')
      record.updatedAt = now()
      if (expected === null) {
        const revision = await create(streamId, record)
        if (revision === 'conflict') return revision
        records.remember({ record, revision })
        return String(revision)
      }
      const at = parseRevision(expected)
      if (at === undefined) return 'conflict'
      // What the replaced revision referred to: known from the `get` that handed it out, else read (and if it is
      // no longer the last, the write would fail anyway).
      let before = records.remembered(streamId)
      if (before?.revision !== at) {
        const current = await records.read(streamId)
        if (current?.revision !== at) return 'conflict'
        before = { revision: at, refs: refsOf(current.record) }
      }
      let revision: number
      try {
        revision = await kv.update(streamKey(streamId), encodeRecord(record), at)
      } catch (error) {
        if (isWrongRevision(error)) return 'conflict'
        throw error
      }
      records.remember({ record, revision })
      // Thumbnails the record no longer refers to go (after the record that drops them is written).
      const after = new Set(refsOf(record))
      for (const eventId of before.refs) {
        if (after.has(eventId)) continue
        await thumbs
          .remove(streamKey(streamId), eventId)
          .catch((error) =>
            report.failed(
              'thumbnail-remove',
              'cannot remove a replaced thumbnail; it goes with its stream',
              { stream: streamId },
              error,
            ),
          )
      }
      return String(revision)
    },
    async list() {
      return (await records.scan()).map(({ record }) => record)
    },
    delete(streamId, expected) {
      const at = expected === undefined ? undefined : parseRevision(expected)
      const isExpected = at === undefined ? undefined : (current: { revision: number }) => current.revision === at
      return deleteLatest(streamId, isExpected, { read: () => records.read(streamId), deleteAt: records.deleteAt })
    },
    putThumbnail: thumbnailBudget({ records, kv, thumbs, report, log }),
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
