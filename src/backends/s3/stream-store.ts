/**
 * The stream store in S3, for hookcast on AWS Lambda: concurrent invocations share the streams' state through the
 * bucket, and S3's conditional requests do the compare-and-set (a record's revision is its object's ETag). Nothing runs
 * in the background, since a function is frozen after it answers: the scheduled run calls `sweep`, and `lazy` puts
 * are written at once like any other.
 * @module
 */
import {
  STREAM_STORE_DEFAULTS,
  deleteLatest,
  type StreamStore,
  type VersionedRecord,
} from '../../streams/stream-store.ts'
import { STREAM_LIMITS, type StreamRecord, type ThumbnailRef } from '../../streams/stream-types.ts'
import { cloneRecord, thumbnailRefs } from '../../streams/stream-record.ts'
import { storeReport, type StoreReport } from '../../streams/store-report.ts'
import { silentLogger, type Logger } from '../../log.ts'
import type { S3Connection } from '../../sinks/s3-client.ts'
import { s3Objects, type Objects } from './objects.ts'
import { prefixRoot } from './queue-keys.ts'
import { s3Records, type S3Records } from './stream-records.ts'
import { s3Thumbnails, type S3Thumbnails } from './thumbnails.ts'
import { s3StreamBounds, type S3StreamBounds, type S3StreamSweepOptions } from './stream-bounds.ts'

export interface S3StreamStoreOptions extends S3Connection {
  /** Every key starts with `<prefix>/`. Default `hookcast`. */
  prefix?: string
  /** Thumbnails kept per stream beyond those its record refers to (oldest go first). Default 8. */
  spareThumbnails?: number
  /** Stream records kept at most (default 10,000). */
  maxStreams?: number
  /** Ended streams are forgotten this long after their last change (default 7 days). */
  keepEndedMs?: number
  log?: Logger
  now?: () => number
  /** A step after the change itself failed (it is retried by the sweep); for metrics. */
  onBackgroundFailure?(task: string): void
  /** A bound was hit (`streams_full`, `stream_evicted`, `stream_expired`, `stream_id_too_long`); for metrics. */
  onLimit?(limit: string): void
}

interface S3StreamStore extends StreamStore {
  /**
   * Forgets ended streams past `keepEndedMs` (and past `maxStreams`) and thumbnails of no record; bounded work, no
   * new step after `deadline`. Resolves how many records expired.
   */
  sweep(options?: S3StreamSweepOptions): Promise<number>
}

const encoder = new TextEncoder()

/** The store's parts, made once when it opens, and what its steps share. */
interface StoreParts {
  objects: Objects
  records: S3Records
  thumbs: S3Thumbnails
  bounds: S3StreamBounds
  report: StoreReport
  now: () => number
}

export function openS3StreamStore(options: S3StreamStoreOptions): S3StreamStore {
  const parts = openParts(options)
  const { objects, records, thumbs, bounds } = parts
  return {
    async get(streamId) {
      const stored = await records.read(records.key(streamId), streamId)
      return stored && ({ record: stored.record, revision: stored.etag } satisfies VersionedRecord)
    },
    put: (streamId, record, expected) => putRecord(parts, streamId, record, expected),
    async list() {
      const listed = await records.list()
      records.retain(listed)
      return (await records.load(listed)).map((stored) => cloneRecord(stored.record)) // copies: `load` shares its own
    },
    delete(streamId, expected) {
      const key = records.key(streamId)
      const isExpected = expected === undefined ? undefined : (stored: { etag: string }) => stored.etag === expected
      return deleteLatest(streamId, isExpected, { read: () => records.read(key, streamId), deleteAt: records.deleteAt })
    },
    putThumbnail: (ref, bytes) => putThumbnail(parts, ref, bytes),
    thumbnail: (streamId, eventId) => thumbs.get(streamId, eventId),
    sweep: (sweepOptions) => bounds.sweep(sweepOptions),
    async close() {
      objects.close()
    },
  }
}

function openParts(options: S3StreamStoreOptions): StoreParts {
  const now = options.now ?? Date.now
  const log = options.log ?? silentLogger
  const maxStreams = Math.max(1, options.maxStreams ?? STREAM_STORE_DEFAULTS.maxStreams)
  const keepEndedMs = options.keepEndedMs ?? STREAM_STORE_DEFAULTS.keepEndedMs
  const objects = s3Objects(options)
  const root = prefixRoot(options.prefix)
  const report = storeReport(log, options)
  const records = s3Records({
    objects,
    root,
    now,
    report,
    maxKnown: maxStreams + 1_024,
    removeThumbnails: (hash, until) => thumbs.removeStoredBefore(hash, until),
  })
  const thumbs = s3Thumbnails({
    objects,
    root,
    spare: Math.max(0, options.spareThumbnails ?? 8),
    async referenced(streamId) {
      const record = (await records.read(records.key(streamId), streamId).catch(() => undefined))?.record
      return thumbnailRefs(record).map((ref) => ref.eventId)
    },
    hasRecord: async (hash) => (await objects.get(records.keyOfHash(hash))) !== undefined,
  })
  const bounds = s3StreamBounds({ records, thumbs, report, log, now, maxStreams, keepEndedMs })
  return { objects, records, thumbs, bounds, report, now }
}

async function putRecord(
  parts: StoreParts,
  streamId: string,
  record: StreamRecord,
  expected: string | null,
): Promise<string | 'conflict'> {
  const { objects, records, bounds, now } = parts
  if (record.streamId !== streamId) throw new Error('a record is put under its own stream id')
  if (expected === null) await bounds.admit(streamId)
  record.updatedAt = now()
  const key = records.key(streamId)
  const rev = crypto.randomUUID()
  const etag = await objects.put(
    key,
    encoder.encode(JSON.stringify({ rev, record })),
    expected === null ? { ifNoneMatch: '*' } : { ifMatch: expected },
  )
  if (etag !== 'conflict') return etag
  // Refused: another writer came first, unless this very write landed before a retry of it was refused.
  const stored = await records.read(key).catch(() => undefined)
  return stored?.rev === rev ? stored.etag : 'conflict'
}

async function putThumbnail(parts: StoreParts, ref: ThumbnailRef, bytes: Uint8Array): Promise<boolean> {
  if ((ref.event.streamId ?? '').length > STREAM_LIMITS.streamIdLength) {
    parts.report.limit('stream_id_too_long')
    return false
  }
  await parts.thumbs.put(ref, bytes)
  return true
}
