/**
 * The stream store in a local directory, the embedded default: one small JSON file per stream (its record and
 * revision), and the thumbnails the records refer to. One process owns the directory (the spool's lock), so
 * compare-and-set is done in memory, where every record is also kept; a change rewrites only its stream's file, so
 * its cost does not grow with the number of streams. A `streams.json` of earlier versions is moved to this layout at
 * the first start.
 * @module
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { STREAM_LIMITS, type StreamRecord, type ThumbnailRef } from '../../streams/stream-types.ts'
import { cloneRecord } from '../../streams/stream-record.ts'
import { EVENT_ID, STREAM_STORE_DEFAULTS, type Revision } from '../../streams/stream-store.ts'
import { storeReport } from '../../streams/store-report.ts'
import { loadStreamRecords, RECORDS, streamRecordFiles, RETRY_MS, type StoredRecord } from './stream-record-files.ts'
import { THUMBNAILS, thumbName, thumbnailFiles } from './thumbnail-files.ts'
import { evictionOrder } from './eviction-order.ts'
import { admit, evictOne, forget, freeThumbnailBytes, sweep } from './eviction.ts'
import { migrateStreamsJson } from './migrate-streams-json.ts'
import { refsOf, type LocalStreamStoreContext } from './stream-store-context.ts'
import type { LocalStreamStore, LocalStreamStoreOptions } from './stream-store-options.ts'

export async function openLocalStreamStore(options: LocalStreamStoreOptions): Promise<LocalStreamStore> {
  const { log } = options
  const now = options.now ?? Date.now
  const keepEndedMs = options.keepEndedMs ?? STREAM_STORE_DEFAULTS.keepEndedMs
  const recordsDir = join(options.dir, RECORDS)
  const thumbsDir = join(options.dir, THUMBNAILS)
  await mkdir(recordsDir, { recursive: true })
  await mkdir(thumbsDir, { recursive: true })
  const report = storeReport(log, options)
  const ctx: LocalStreamStoreContext = {
    log,
    now,
    report,
    maxStreams: Math.max(1, options.maxStreams ?? STREAM_STORE_DEFAULTS.maxStreams),
    keepEndedMs,
    maxThumbnailBytes: options.maxThumbnailBytes ?? STREAM_STORE_DEFAULTS.maxThumbnailBytes,
    records: new Map(),
    revision: 0,
    order: evictionOrder(),
    files: streamRecordFiles(
      recordsDir,
      (streamId) => ctx.records.get(streamId),
      report,
      (streamId, revision) => dropWrittenThumbnails(ctx, streamId, revision),
    ),
    thumbs: thumbnailFiles(thumbsDir, report),
    dropAfterWrite: new Map(),
  }
  await migrateStreamsJson(options.dir, recordsDir, thumbsDir, log, now())
  await loadRecords(ctx, recordsDir)
  await sweep(ctx)
  const sweepEveryMs = options.sweepEveryMs ?? Math.max(1_000, Math.min(3_600_000, keepEndedMs / 4))
  const sweepTimer = setInterval(() => {
    sweep(ctx).catch((error) => report.failed('sweep', 'cannot sweep the stream state; trying again later', {}, error))
  }, sweepEveryMs)
  ;(sweepTimer as { unref?: () => void }).unref?.()

  const { records, thumbs } = ctx
  return {
    async get(streamId) {
      const stored = records.get(streamId)
      return stored && { record: cloneRecord(stored.record), revision: String(stored.revision) }
    },
    async peek(streamId) {
      const stored = records.get(streamId)
      return stored && { record: stored.record, revision: String(stored.revision) }
    },
    put: (streamId, record, expected, putOptions = {}) => putRecord(ctx, streamId, record, expected, putOptions),
    async list() {
      return [...records.values()].map((stored) => cloneRecord(stored.record))
    },
    delete: (streamId, expected) => deleteRecord(ctx, streamId, expected),
    putThumbnail: (ref, bytes) => putThumbnail(ctx, ref, bytes),
    async thumbnail(streamId, eventId) {
      if (!EVENT_ID.test(eventId)) return undefined
      return thumbs.read(thumbName(streamId, eventId))
    },
    sweep: () => sweep(ctx),
    stats: () => ({ streams: records.size, thumbnailBytes: thumbs.bytes() }),
    async close() {
      clearInterval(sweepTimer)
      await ctx.files.close()
    },
  }
}

/**
 * Reads the record files (oldest change first, the eviction order), counts the thumbnail files they refer to, and
 * forgets ended streams beyond `maxStreams` (a previous config allowed more).
 */
async function loadRecords(ctx: LocalStreamStoreContext, recordsDir: string): Promise<void> {
  const { records, thumbs } = ctx
  const loaded = await loadStreamRecords(recordsDir, ctx.log, ctx.now())
  for (const stored of loaded) {
    records.set(stored.record.streamId, stored)
    ctx.order.touch(stored.record)
    ctx.revision = Math.max(ctx.revision, stored.revision)
  }
  const referenced = new Map<string, string>()
  for (const { record } of loaded) for (const file of refsOf(record)) referenced.set(file, record.streamId)
  await thumbs.load(referenced)
  // Records that point to a file that is gone lose the reference.
  for (const { record } of loaded) {
    for (const key of ['firstThumbnail', 'latestThumbnail'] as const) {
      const ref = record[key]
      if (ref && thumbs.size(thumbName(record.streamId, ref.eventId)) === undefined) delete record[key]
    }
  }
  while (records.size > ctx.maxStreams && evictOne(ctx)) {
    /* fewer streams allowed than a previous config kept */
  }
}

/** `StreamStore.put`: compare-and-set in memory, then the record's file (at once, or with the next lazy write). */
async function putRecord(
  ctx: LocalStreamStoreContext,
  streamId: string,
  record: StreamRecord,
  expected: Revision | null,
  putOptions: { lazy?: boolean },
): Promise<Revision | 'conflict'> {
  const { records, files, thumbs } = ctx
  if (record.streamId !== streamId) throw new Error('a record is put under its own stream id')
  const current = records.get(streamId)
  // Compared and set with no wait in between: atomic, as one process owns the directory.
  const matches = expected === null ? !current : current !== undefined && String(current.revision) === expected
  if (!matches) return 'conflict'
  if (!current && (streamId.length > STREAM_LIMITS.streamIdLength || records.size >= ctx.maxStreams)) {
    await admit(ctx, streamId)
    if (records.has(streamId)) return 'conflict' // made by another writer while room was made
  }
  const before = refsOf(current?.record)
  record.updatedAt = ctx.now()
  const stored: StoredRecord = { record: cloneRecord(record), revision: ++ctx.revision }
  records.set(streamId, stored)
  ctx.order.touch(stored.record) // a changed stream goes to the end of the eviction order
  const after = refsOf(stored.record)
  for (const file of after) thumbs.taken(file)
  const dropped = [...before].filter((file) => !after.has(file))
  if (putOptions.lazy) {
    files.later(streamId)
    if (dropped.length > 0)
      ctx.dropAfterWrite.set(streamId, [
        ...(ctx.dropAfterWrite.get(streamId) ?? []),
        ...dropped.map((file) => ({ file, revision: stored.revision })),
      ])
    return String(stored.revision)
  } else {
    files.cancel(streamId)
    try {
      await files.sync(streamId)
    } catch (error) {
      // The caller sees the failure (a delivery is retried); the change is in memory, and written in the background.
      files.later(streamId, RETRY_MS)
      for (const file of dropped) thumbs.markLoose(file, streamId, 0)
      throw error
    }
  }
  // Thumbnail files the record no longer refers to go (after the state that drops them is written).
  for (const file of dropped) await thumbs.remove(file, streamId)
  return String(stored.revision)
}

/** After a stream's file was written: the thumbnail files lazy changes dropped up to that revision go. */
function dropWrittenThumbnails(ctx: LocalStreamStoreContext, streamId: string, revision: number | undefined): void {
  const waiting = ctx.dropAfterWrite.get(streamId)
  if (!waiting) return
  const due = revision === undefined ? waiting : waiting.filter((drop) => drop.revision <= revision)
  const left = waiting.filter((drop) => !due.includes(drop))
  if (left.length > 0) ctx.dropAfterWrite.set(streamId, left)
  else ctx.dropAfterWrite.delete(streamId)
  const still = refsOf(ctx.records.get(streamId)?.record)
  for (const { file } of due) {
    if (!still.has(file))
      void ctx.thumbs
        .remove(file, streamId)
        .catch((error) =>
          ctx.report.failed('thumbnail-remove', 'cannot remove a thumbnail file', { stream: streamId }, error),
        )
  }
}

async function deleteRecord(
  ctx: LocalStreamStoreContext,
  streamId: string,
  expected: Revision | undefined,
): Promise<boolean | 'conflict'> {
  const current = ctx.records.get(streamId)
  if (!current) return false
  if (expected !== undefined && String(current.revision) !== expected) return 'conflict'
  await forget(ctx, streamId, 'deleted')
  return true
}

/** `StreamStore.putThumbnail`: ended streams give up their thumbnails' bytes for it; live streams never do. */
async function putThumbnail(ctx: LocalStreamStoreContext, ref: ThumbnailRef, bytes: Uint8Array): Promise<boolean> {
  const { thumbs, maxThumbnailBytes } = ctx
  const streamId = ref.event.streamId ?? ''
  if (!EVENT_ID.test(ref.eventId)) throw new Error(`not an event id: ${ref.eventId.slice(0, 80)}`)
  if (streamId.length > STREAM_LIMITS.streamIdLength) {
    ctx.report.limit('stream_id_too_long')
    return false
  }
  const file = thumbName(streamId, ref.eventId)
  if (thumbs.size(file) !== undefined) return true // the same event: the same bytes
  // The stream's latest thumbnail, when it is not also its first, is about to be replaced by this one.
  const current = ctx.records.get(streamId)?.record
  const replaced =
    current?.latestThumbnail && current.latestThumbnail.eventId !== current.firstThumbnail?.eventId
      ? (thumbs.size(thumbName(streamId, current.latestThumbnail.eventId)) ?? 0)
      : 0
  const excess = thumbs.bytes() - replaced + bytes.byteLength - maxThumbnailBytes
  if (excess > 0 && (await freeThumbnailBytes(ctx, excess, streamId)) < excess) {
    ctx.report.limit('thumbnail_bytes')
    ctx.log.warn(
      "thumbnail storage full of live streams' thumbnails: one is not kept (raise streams.maxThumbnailBytes)",
      { stream: streamId.slice(0, 100), bytes: bytes.byteLength, maxThumbnailBytes },
    )
    return false
  }
  await thumbs.write(file, streamId, bytes, ctx.now())
  return true
}
