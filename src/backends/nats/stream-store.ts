/**
 * The stream store in NATS KV, shared by every instance on one NATS: a stream's record is one JSON value under a hash
 * of its id (KV keys allow few characters), and its revision is the KV revision, so the server compares and sets
 * (`kv.create`, `kv.update` at a revision) and writers on several instances never lose a change; a revision never
 * comes back for a stream deleted and made again. `lazy` puts are written at once: the server's ack is the
 * durability. The bounds are kept without a lock shared by the instances.
 * @module
 */
import type { NatsConnection } from '@nats-io/transport-node'
import type { Revision, StreamStore, VersionedRecord } from '../../streams/stream-store.ts'
import { checkStreamIdFits, StreamLimitError, type StreamRecord } from '../../streams/stream-types.ts'
import type { Logger } from '../../log.ts'
import { streamKey } from '../../streams/stream-key.ts'
import { isBucketFull, isWrongRevision, openBucket, parseRevision, type Bucket } from './kv-buckets.ts'
import { streamEviction, type Eviction } from './stream-eviction.ts'
import { openNatsThumbnails, type NatsThumbnails } from './thumbnails.ts'
import { storeReport, type StoreReport } from '../../streams/store-report.ts'
import { encodeRecord, refsOf, streamRecords, type StreamRecords } from './stream-records.ts'
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
  /**
   * A bound was hit (`streams_full`, `stream_evicted`, `stream_expired`, `thumbnail_bytes`, `stream_id_too_long`);
   * for metrics.
   */
  onLimit?(limit: string): void
}

export interface NatsStreamStore extends StreamStore {
  /** Forgets ended streams past `keepEndedMs`, and thumbnails of streams with no record; resolves how many streams. */
  sweep(): Promise<number>
  stats(): Promise<{ streams: number; thumbnailBytes: number }>
}

const NATS_STREAM_STORE_DEFAULTS = {
  bucket: 'hookcast-streams',
  thumbnailBucket: 'hookcast-thumbnails',
  replicas: 1,
  maxRecordBytes: 1024 * 1024,
}

/** What the store's steps share. */
interface StoreContext {
  /** The records' bucket, and its JetStream stream. */
  bucket: Bucket
  records: StreamRecords
  thumbs: NatsThumbnails
  report: StoreReport
  log: Logger
  now: () => number
  maxStreams: number
  eviction: Eviction
}

export async function openNatsStreamStore(options: NatsStreamStoreOptions): Promise<NatsStreamStore> {
  const ctx = await openParts(options)
  const { records, thumbs, eviction } = ctx
  const keepEndedMs = options.keepEndedMs ?? STREAM_STORE_DEFAULTS.keepEndedMs
  const sweepTimer = await startSweeps(
    ctx,
    options.sweepEveryMs ?? Math.max(1_000, Math.min(3_600_000, keepEndedMs / 4)),
  )
  return {
    async get(streamId) {
      const stored = await records.read(streamId)
      if (!stored) return undefined
      records.remember(stored)
      return { record: stored.record, revision: String(stored.revision) } satisfies VersionedRecord
    },
    put: (streamId, record, expected) => putRecord(ctx, streamId, record, expected),
    async list() {
      return (await records.scan()).map(({ record }) => record)
    },
    delete(streamId, expected) {
      // A compare-and-delete that leaves no delete marker: the message of the revision read is deleted, which fails
      // once a later write replaced it.
      const at = expected === undefined ? undefined : parseRevision(expected)
      const isExpected = at === undefined ? undefined : (current: { revision: number }) => current.revision === at
      return deleteLatest(streamId, isExpected, { read: () => records.read(streamId), deleteAt: records.deleteAt })
    },
    putThumbnail: thumbnailBudget({ records, kv: ctx.bucket.kv, thumbs, report: ctx.report, log: ctx.log }),
    async thumbnail(streamId, eventId) {
      if (!EVENT_ID.test(eventId)) return undefined
      return thumbs.get(streamKey(streamId), eventId)
    },
    sweep: eviction.sweep,
    async stats() {
      const { jsm, jetStream } = ctx.bucket
      const [info, thumbnailBytes] = await Promise.all([jsm.streams.info(jetStream), thumbs.bytes()])
      return { streams: info.state.messages, thumbnailBytes }
    },
    async close() {
      clearInterval(sweepTimer)
    },
  }
}

/** Opens the two buckets, and the parts that read and forget records. */
async function openParts(options: NatsStreamStoreOptions): Promise<StoreContext> {
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
  const thumbs = await openNatsThumbnails({
    nc,
    bucket: options.thumbnailBucket ?? NATS_STREAM_STORE_DEFAULTS.thumbnailBucket,
    replicas,
    maxBytes: options.maxThumbnailBytes ?? STREAM_STORE_DEFAULTS.maxThumbnailBytes,
    ...(options.thumbnailChunkBytes ? { chunkBytes: options.thumbnailChunkBytes } : {}),
  })
  const report = storeReport(log, options)
  const records = streamRecords({ bucket, thumbs, report, log, now })
  const eviction = streamEviction({ records, kv: bucket.kv, thumbs, report, log, now, maxStreams, keepEndedMs })
  return { bucket, records, thumbs, report, log, now, maxStreams, eviction }
}

/** Sweeps once now, then every `everyMs`; a failed sweep is reported and tried again at the next. */
async function startSweeps(ctx: StoreContext, everyMs: number): Promise<ReturnType<typeof setInterval>> {
  const sweep = () =>
    ctx.eviction
      .sweep()
      .catch((error) => ctx.report.failed('sweep', 'cannot sweep the stream state; trying again later', {}, error))
  await sweep()
  const timer = setInterval(sweep, everyMs)
  ;(timer as { unref?: () => void }).unref?.()
  return timer
}

async function putRecord(
  ctx: StoreContext,
  streamId: string,
  record: StreamRecord,
  expected: Revision | null,
): Promise<Revision | 'conflict'> {
  if (record.streamId !== streamId) throw new Error('a record is put under its own stream id')
  record.updatedAt = ctx.now()
  if (expected === null) {
    const revision = await createRecord(ctx, streamId, record)
    if (revision === 'conflict') return revision
    ctx.records.remember({ record, revision })
    return String(revision)
  }
  const at = parseRevision(expected)
  return at === undefined ? 'conflict' : replaceRecord(ctx, streamId, record, at)
}

/** Creates a record, making room once when the bucket is full of them. */
async function createRecord(ctx: StoreContext, streamId: string, record: StreamRecord): Promise<number | 'conflict'> {
  const { bucket, report, log, maxStreams } = ctx
  checkStreamIdFits(streamId, (what) => report.limit(what))
  for (let attempt = 0; ; attempt++) {
    try {
      return await bucket.kv.create(streamKey(streamId), encodeRecord(record))
    } catch (error) {
      if (isWrongRevision(error)) return 'conflict'
      if (!isBucketFull(error)) throw error
    }
    if (attempt === 0 && (await ctx.eviction.evict(streamId)) > 0) continue
    // Room made by another instance's eviction is taken by the next stream that comes.
    report.limit('streams_full')
    log.warn('stream state full of live streams: a new stream is not tracked (raise streams.maxStreams)', {
      stream: streamId.slice(0, 100),
      maxStreams,
    })
    await ctx.thumbs.removeStream(streamKey(streamId)).catch(() => {})
    throw new StreamLimitError(
      'streams_full',
      `stream state full: every one of the ${maxStreams} stream records is a live stream`,
    )
  }
}

/** Writes the record at revision `at`, then removes the thumbnails that the replaced revision had and it has not. */
async function replaceRecord(
  ctx: StoreContext,
  streamId: string,
  record: StreamRecord,
  at: number,
): Promise<Revision | 'conflict'> {
  const { records } = ctx
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
    revision = await ctx.bucket.kv.update(streamKey(streamId), encodeRecord(record), at)
  } catch (error) {
    if (isWrongRevision(error)) return 'conflict'
    throw error
  }
  records.remember({ record, revision })
  // After the record that drops them is written.
  const after = new Set(refsOf(record))
  for (const eventId of before.refs) {
    if (after.has(eventId)) continue
    await ctx.thumbs
      .remove(streamKey(streamId), eventId)
      .catch((error) =>
        ctx.report.failed(
          'thumbnail-remove',
          'cannot remove a replaced thumbnail; it goes with its stream',
          { stream: streamId },
          error,
        ),
      )
  }
  return String(revision)
}
