/**
 * The stream store in a local directory (the embedded default): one small JSON file per stream under `records/`
 * with its revision (stream-record-files.ts), and the thumbnails the records refer to under `thumbnails/`
 * (local-streams/thumbnail-files.ts). One process owns the directory (the spool's lock), so compare-and-set is done
 * in memory, where every record is also kept; a change rewrites only its stream's file, so its cost does not grow
 * with the number of streams.
 *
 * What the directory may hold is bounded:
 * - `maxStreams` records. A new stream beyond it evicts an ended stream (local-streams/eviction-order.ts). A live or
 *   ending stream is never evicted: when every record is one, the new stream is refused (`StreamLimitError`, logged
 *   and counted) and not tracked; its hooks are still delivered to every other destination.
 * - Ended streams are kept for `keepEndedMs` after their last change, then swept (at start and periodically).
 * - `maxThumbnailBytes` of thumbnails. A thumbnail that does not fit takes the room of ended streams' thumbnails,
 *   oldest first; when what is kept belongs to live streams only, it is refused (`putThumbnail` resolves `false`).
 *   A stream's own latest thumbnail, which the new one replaces, does not count against it.
 *
 * A `streams.json` of earlier versions is moved to this layout at the first start (local-streams/migrate.ts).
 * @module
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { checkStreamIdFits, STREAM_LIMITS, StreamLimitError, type StreamRecord } from '../../streams/stream-types.ts'
import { cloneRecord } from '../../streams/stream-record.ts'
import { loadRecordFiles, RECORDS, recordFiles, RETRY_MS, type StoredRecord } from './stream-record-files.ts'
import { THUMBNAILS, thumbName, thumbnailFiles } from './thumbnail-files.ts'
import { evictionOrder } from './eviction-order.ts'
import { migrateLegacy } from './migrate.ts'
import type { LocalStreamStore, LocalStreamStoreOptions } from './stream-store-options.ts'
import { EVENT_ID, STREAM_STORE_DEFAULTS } from '../../streams/stream-store.ts'

export type { LocalStreamStore, LocalStreamStoreOptions }

/** A thumbnail file written but not yet referred to by its record is left alone this long. */
const LOOSE_GRACE_MS = 60_000

export async function openLocalStreamStore(options: LocalStreamStoreOptions): Promise<LocalStreamStore> {
  const { log } = options
  const now = options.now ?? Date.now
  const maxStreams = Math.max(1, options.maxStreams ?? STREAM_STORE_DEFAULTS.maxStreams)
  const keepEndedMs = options.keepEndedMs ?? STREAM_STORE_DEFAULTS.keepEndedMs
  const maxThumbnailBytes = options.maxThumbnailBytes ?? STREAM_STORE_DEFAULTS.maxThumbnailBytes
  const recordsDir = join(options.dir, RECORDS)
  const thumbsDir = join(options.dir, THUMBNAILS)
  await mkdir(recordsDir, { recursive: true })
  await mkdir(thumbsDir, { recursive: true })

  // A metrics callback must not turn a logged failure into a crash.
  const count = (callback: ((what: string) => void) | undefined, what: string) => {
    try {
      callback?.(what)
    } catch {
      /* ignored */
    }
  }
  const failed = (task: string, message: string, fields: Record<string, unknown>, error: unknown) => {
    log.error(message, { ...fields, error: String(error) })
    count(options.onBackgroundFailure, task)
  }
  const limit = (what: string) => count(options.onLimit, what)

  const records = new Map<string, StoredRecord>()
  /** Revisions come from one counter, so a stream forgotten and made again never gets a revision back. */
  let counter = 0
  const order = evictionOrder()
  // Thumbnail files a lazy change dropped, with the revision that dropped them: they go once a record at least that
  // new is on disk (a crash before that brings back a record that still refers to them).
  const dropAfterWrite = new Map<string, Array<{ file: string; revision: number }>>()
  const files = recordFiles(
    recordsDir,
    (streamId) => records.get(streamId),
    failed,
    (streamId, revision) => {
      const waiting = dropAfterWrite.get(streamId)
      if (!waiting) return
      const due = revision === undefined ? waiting : waiting.filter((drop) => drop.revision <= revision)
      const left = waiting.filter((drop) => !due.includes(drop))
      if (left.length > 0) dropAfterWrite.set(streamId, left)
      else dropAfterWrite.delete(streamId)
      const still = refsOf(records.get(streamId)?.record)
      for (const { file } of due) {
        if (!still.has(file))
          void thumbs
            .remove(file, streamId)
            .catch((error) => failed('thumbnail-remove', 'cannot remove a thumbnail file', { stream: streamId }, error))
      }
    },
  )
  const thumbs = thumbnailFiles(thumbsDir, failed)
  const refsOf = (record: StreamRecord | undefined): Set<string> => {
    const out = new Set<string>()
    for (const ref of [record?.firstThumbnail, record?.latestThumbnail])
      if (ref && record) out.add(thumbName(record.streamId, ref.eventId))
    return out
  }

  /** Forgets a stream: its record at once, its files in the background (the promise never rejects). */
  function forget(streamId: string, why: string): Promise<void> {
    const stored = records.get(streamId)
    if (!stored) return Promise.resolve()
    records.delete(streamId)
    order.drop(streamId)
    files.cancel(streamId)
    const names = refsOf(stored.record)
    for (const file of thumbs.looseOf(streamId)) names.add(file)
    return (async () => {
      await files.sync(streamId)
      for (const file of names) await thumbs.remove(file, streamId)
    })().catch((error) =>
      failed(
        'state-remove',
        "cannot remove a forgotten stream's file; it is removed at the next start",
        { stream: streamId, why },
        error,
      ),
    )
  }

  /** Makes room for one more record, if an ended stream can give its place. */
  function evictOne(): boolean {
    const streamId = order.first()
    if (streamId === undefined) return false
    log.info('stream state full: forgetting an ended stream', { stream: streamId, maxStreams })
    limit('stream_evicted')
    void forget(streamId, 'evicted')
    return true
  }

  /** Frees at least `needed` bytes of thumbnails of ended streams (oldest first); resolves what it freed. */
  async function freeThumbnailBytes(needed: number, except: string): Promise<number> {
    let freed = 0
    for (const { streamId, hadSession } of order.all()) {
      if (freed >= needed) break
      const stored = records.get(streamId)
      if (!stored || streamId === except) continue
      const names = refsOf(stored.record)
      if (names.size === 0) continue
      for (const file of names) freed += thumbs.size(file) ?? 0
      if (!hadSession) {
        await forget(streamId, 'thumbnail bytes') // known from thumbnails alone: nothing left worth keeping
        continue
      }
      // A new object, not a change in place: a reader may hold the stored one (`peek`).
      const { firstThumbnail: _first, latestThumbnail: _latest, ...kept } = stored.record
      stored.record = kept
      stored.revision = ++counter
      try {
        await files.sync(streamId)
      } catch (error) {
        files.later(streamId, RETRY_MS)
        failed('state-write', 'cannot save stream state; retrying', { stream: streamId }, error)
      }
      for (const file of names) await thumbs.remove(file, streamId)
    }
    return freed
  }

  // --- loading ---------------------------------------------------------------------------------------------
  await migrateLegacy(options.dir, recordsDir, thumbsDir, log, now())
  const loaded = await loadRecordFiles(recordsDir, log, now())
  for (const stored of loaded) {
    records.set(stored.record.streamId, stored)
    order.touch(stored.record)
    counter = Math.max(counter, stored.revision)
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
  while (records.size > maxStreams && evictOne()) {
    /* fewer streams allowed than a previous config kept */
  }

  // --- sweeping --------------------------------------------------------------------------------------------
  async function sweep(): Promise<number> {
    const cutoff = now() - keepEndedMs
    let expired = 0
    for (const { streamId } of order.all()) {
      const stored = records.get(streamId)
      if (stored && stored.record.updatedAt < cutoff) {
        await forget(streamId, 'expired')
        limit('stream_expired')
        expired++
      }
    }
    await thumbs.sweep(now() - LOOSE_GRACE_MS, (file, streamId) => refsOf(records.get(streamId)?.record).has(file))
    if (expired > 0) log.info('forgot ended streams past streams.keepEnded', { streams: expired })
    return expired
  }
  await sweep()
  const sweepEveryMs = options.sweepEveryMs ?? Math.max(1_000, Math.min(3_600_000, keepEndedMs / 4))
  const sweepTimer = setInterval(() => {
    sweep().catch((error) => failed('sweep', 'cannot sweep the stream state; trying again later', {}, error))
  }, sweepEveryMs)
  ;(sweepTimer as { unref?: () => void }).unref?.()

  /** Refuses a new stream when it cannot be kept (after making room if an ended stream can give its place). */
  async function admit(streamId: string): Promise<void> {
    checkStreamIdFits(streamId, limit)
    if (records.size < maxStreams || evictOne()) return
    limit('streams_full')
    log.warn('stream state full of live streams: a new stream is not tracked (raise streams.maxStreams)', {
      stream: streamId.slice(0, 100),
      maxStreams,
    })
    for (const file of thumbs.looseOf(streamId)) await thumbs.remove(file, streamId)
    throw new StreamLimitError(
      'streams_full',
      `stream state full: every one of the ${maxStreams} stream records is a live stream`,
    )
  }

  return {
    async get(streamId) {
      const stored = records.get(streamId)
      return stored && { record: cloneRecord(stored.record), revision: String(stored.revision) }
    },
    async peek(streamId) {
      const stored = records.get(streamId)
      return stored && { record: stored.record, revision: String(stored.revision) }
    },
    async put(streamId, record, expected, putOptions = {}) {
      if (record.streamId !== streamId) throw new Error('a record is put under its own stream id')
      const current = records.get(streamId)
      // Compared and set with no wait in between: atomic, as one process owns the directory.
      const matches = expected === null ? !current : current !== undefined && String(current.revision) === expected
      if (!matches) return 'conflict'
      if (!current && (streamId.length > STREAM_LIMITS.streamIdLength || records.size >= maxStreams)) {
        await admit(streamId)
        if (records.has(streamId)) return 'conflict' // made by another writer while room was made
      }
      const before = refsOf(current?.record)
      record.updatedAt = now()
      const stored: StoredRecord = { record: cloneRecord(record), revision: ++counter }
      records.set(streamId, stored)
      order.touch(stored.record) // a changed stream goes to the end of the eviction order
      const after = refsOf(stored.record)
      for (const file of after) thumbs.taken(file)
      const dropped = [...before].filter((file) => !after.has(file))
      if (putOptions.lazy) {
        files.later(streamId)
        if (dropped.length > 0)
          dropAfterWrite.set(streamId, [
            ...(dropAfterWrite.get(streamId) ?? []),
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
    },
    async list() {
      return [...records.values()].map((stored) => cloneRecord(stored.record))
    },
    async delete(streamId, expected) {
      const current = records.get(streamId)
      if (!current) return false
      if (expected !== undefined && String(current.revision) !== expected) return 'conflict'
      await forget(streamId, 'deleted')
      return true
    },
    async putThumbnail(ref, bytes) {
      const streamId = ref.event.streamId ?? ''
      if (!EVENT_ID.test(ref.eventId)) throw new Error(`not an event id: ${ref.eventId.slice(0, 80)}`)
      if (streamId.length > STREAM_LIMITS.streamIdLength) {
        limit('stream_id_too_long')
        return false
      }
      const file = thumbName(streamId, ref.eventId)
      if (thumbs.size(file) !== undefined) return true // the same event: the same bytes
      // The stream's latest thumbnail, when it is not also its first, is about to be replaced by this one.
      const current = records.get(streamId)?.record
      const replaced =
        current?.latestThumbnail && current.latestThumbnail.eventId !== current.firstThumbnail?.eventId
          ? (thumbs.size(thumbName(streamId, current.latestThumbnail.eventId)) ?? 0)
          : 0
      const excess = thumbs.bytes() - replaced + bytes.byteLength - maxThumbnailBytes
      if (excess > 0 && (await freeThumbnailBytes(excess, streamId)) < excess) {
        limit('thumbnail_bytes')
        log.warn(
          "thumbnail storage full of live streams' thumbnails: one is not kept (raise streams.maxThumbnailBytes)",
          {
            stream: streamId.slice(0, 100),
            bytes: bytes.byteLength,
            maxThumbnailBytes,
          },
        )
        return false
      }
      await thumbs.write(file, streamId, bytes, now())
      return true
    },
    async thumbnail(streamId, eventId) {
      if (!EVENT_ID.test(eventId)) return undefined
      return thumbs.read(thumbName(streamId, eventId))
    },
    sweep,
    stats: () => ({ streams: records.size, thumbnailBytes: thumbs.bytes() }),
    async close() {
      clearInterval(sweepTimer)
      await files.close()
    },
  }
}
