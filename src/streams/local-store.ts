/**
 * Stream state in a local directory: one small JSON file per stream under `records/` and the thumbnails the state
 * refers to under `thumbnails/`, both named by a hash of the stream id (any valid id fits a file name, and no id
 * reaches a path). A change rewrites only its stream's file (temp file, then rename), so its cost does not grow
 * with the number of streams; writes of concurrent changes to one stream are coalesced.
 *
 * What the directory may hold is bounded:
 * - `maxStreams` records. A new stream beyond it evicts an ended stream: first one that never went live (a stream
 *   known only from thumbnails, whose headers are not signed), then the one ended longest ago. A live or ending
 *   stream is never evicted: when every record is one, the new stream is refused (`StreamLimitError`, logged and
 *   counted) and not tracked; its hooks are still delivered to every other destination.
 * - Ended streams are kept for `keepEndedMs` after their last change, then swept (at start and periodically).
 * - `maxThumbnailBytes` of thumbnails. A thumbnail that does not fit takes the room of ended streams' thumbnails,
 *   oldest first; when what is kept belongs to live streams only, it is refused (`putThumbnail` resolves `false`).
 *   A stream's own latest thumbnail, which the new one replaces, does not count against it.
 *
 * A `streams.json` of earlier versions is moved to this layout at the first start.
 * @module
 */
import { createHash, randomUUID } from 'node:crypto'
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { dict, STREAM_LIMITS, StreamLimitError, type StreamRecord, type StreamStore, type ThumbnailRef } from './types.ts'
import type { Logger } from '../log.ts'

export interface LocalStreamStoreOptions {
  dir: string
  log: Logger
  now?: () => number
  /** Stream records kept at most (default 10,000). */
  maxStreams?: number
  /** Ended streams are forgotten this long after their last change (default 7 days). */
  keepEndedMs?: number
  /** Bytes of thumbnails kept at most (default 512 MiB). */
  maxThumbnailBytes?: number
  /** How often ended streams and stray thumbnail files are swept (default: an hour, or keepEndedMs / 4 if less). */
  sweepEveryMs?: number
  /** A background step failed (it is retried); for metrics. */
  onBackgroundFailure?(task: string): void
  /** A bound was hit (`streams_full`, `stream_evicted`, `stream_expired`, `thumbnail_bytes`, `stream_id_too_long`); for metrics. */
  onLimit?(limit: string): void
}

export interface LocalStreamStore extends StreamStore {
  /** Forgets ended streams past `keepEndedMs` and removes thumbnail files nothing refers to; resolves how many records went. */
  sweep(): Promise<number>
  stats(): { streams: number; thumbnailBytes: number }
}

export const STREAM_STORE_DEFAULTS = {
  maxStreams: 10_000,
  keepEndedMs: 7 * 86_400_000,
  maxThumbnailBytes: 512 * 1024 * 1024,
}

const LEGACY_FILE = 'streams.json'
const RECORDS = 'records'
const THUMBNAILS = 'thumbnails'
/** Lazy changes wait this long to share a write. */
const LAZY_MS = 1_000
/** A failed background write is retried after this, doubling up to MAX_RETRY_MS. */
const RETRY_MS = 1_000
const MAX_RETRY_MS = 30_000
/** A thumbnail file written but not yet referred to by its record is left alone this long. */
const LOOSE_GRACE_MS = 60_000
/** Files read at once while loading. */
const LOAD_BATCH = 64

/** The name of a stream's files: 128 bits of SHA-256 of its id, in hex. */
export function streamKey(streamId: string): string {
  return createHash('sha256').update(streamId, 'utf8').digest('hex').slice(0, 32)
}

const EVENT_ID = /^[A-Za-z0-9_-]{1,64}$/

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

  const failed = (task: string, message: string, fields: Record<string, unknown>, error: unknown) => {
    log.error(message, { ...fields, error: String(error) })
    try {
      options.onBackgroundFailure?.(task)
    } catch {
      // a metrics callback must not turn a logged failure into a crash
    }
  }
  const limit = (what: string) => {
    try {
      options.onLimit?.(what)
    } catch {
      // as above
    }
  }

  const records = new Map<string, StreamRecord>()
  /**
   * Ended streams in the order of their last change (oldest first), in the order they give up their place:
   * `spare` never went live (known from thumbnails alone), `over` had a session.
   */
  const spare = new Set<string>()
  const over = new Set<string>()
  /** Size of every thumbnail file kept, by file name, and their sum. */
  const thumbSizes = new Map<string, number>()
  let thumbBytes = 0
  /** Thumbnail files written (or dropped by a failed write) that a record may not refer to: checked by the sweep. */
  const loose = new Map<string, { streamId: string; at: number }>()

  const recordPath = (streamId: string) => join(recordsDir, `${streamKey(streamId)}.json`)
  const thumbName = (streamId: string, eventId: string) => `${streamKey(streamId)}.${eventId}.jpg`
  const refsOf = (record: StreamRecord | undefined): Set<string> => {
    const out = new Set<string>()
    for (const ref of [record?.firstThumbnail, record?.latestThumbnail]) if (ref && record) out.add(thumbName(record.streamId, ref.eventId))
    return out
  }

  function classify(record: StreamRecord): void {
    spare.delete(record.streamId)
    over.delete(record.streamId)
    if (record.status === 'ended') (record.session ? over : spare).add(record.streamId)
  }

  // --- writes: one at a time per stream; changes meanwhile share the next one --------------------------------
  const slots = new Map<string, { tail: Promise<void>; next?: Promise<void> }>()

  /** Brings a stream's file in line with memory: its record written, or the file removed when it is gone. */
  function sync(streamId: string): Promise<void> {
    let slot = slots.get(streamId)
    if (slot?.next) return slot.next
    if (!slot) {
      slot = { tail: Promise.resolve() }
      slots.set(streamId, slot)
    }
    const mine = slot
    const run = mine.tail.catch(() => {}).then(() => {
      mine.next = undefined // changes from now on need another write
      return writeOrRemove(streamId)
    })
    mine.next = run
    mine.tail = run
    void run.catch(() => {}).then(() => { if (mine.tail === run && !mine.next) slots.delete(streamId) })
    return run
  }

  async function writeOrRemove(streamId: string): Promise<void> {
    const path = recordPath(streamId)
    const record = records.get(streamId)
    if (!record) {
      await rm(path, { force: true })
      return
    }
    const temp = `${path}.${randomUUID()}.tmp`
    try {
      await writeFile(temp, JSON.stringify(record))
      await rename(temp, path)
    } catch (error) {
      await rm(temp, { force: true }).catch(() => {})
      throw error
    }
  }

  // Lazy changes, and changes whose write failed, are written by a timer; a failure is retried with a backoff.
  const lazy = new Set<string>()
  let lazyTimer: ReturnType<typeof setTimeout> | undefined
  let lazyRetries = 0
  let flushing: Promise<void> | undefined
  let closed = false
  const scheduleLazy = (ms: number) => {
    if (closed) return
    lazyTimer ??= setTimeout(() => {
      lazyTimer = undefined
      flushing = flushLazy()
        .catch((error) => failed('state-write', 'cannot save stream state; retrying', {}, error))
        .finally(() => { flushing = undefined })
    }, ms)
  }
  async function flushLazy(): Promise<void> {
    const ids = [...lazy]
    lazy.clear()
    let failures = 0
    for (const streamId of ids) {
      try {
        await sync(streamId)
      } catch (error) {
        failures++
        lazy.add(streamId)
        if (failures === 1) failed('state-write', 'cannot save stream state; retrying', { stream: streamId, pending: ids.length }, error)
      }
    }
    if (lazy.size === 0) {
      lazyRetries = 0
      return
    }
    scheduleLazy(failures > 0 ? Math.min(MAX_RETRY_MS, RETRY_MS * 2 ** lazyRetries++) : LAZY_MS)
  }

  // --- removal ---------------------------------------------------------------------------------------------
  async function removeThumb(file: string, streamId: string): Promise<void> {
    try {
      await rm(join(thumbsDir, file), { force: true })
      const size = thumbSizes.get(file)
      if (size !== undefined) thumbBytes -= size
      thumbSizes.delete(file)
      loose.delete(file)
    } catch (error) {
      loose.set(file, { streamId, at: 0 }) // the sweep tries again
      failed('thumbnail-remove', 'cannot remove a thumbnail file; the sweep retries', { file }, error)
    }
  }

  /** Forgets a stream: its record at once, its files in the background (the promise never rejects). */
  function forget(streamId: string, why: string): Promise<void> {
    const record = records.get(streamId)
    if (!record) return Promise.resolve()
    records.delete(streamId)
    spare.delete(streamId)
    over.delete(streamId)
    lazy.delete(streamId)
    const files = refsOf(record)
    for (const [file, entry] of loose) if (entry.streamId === streamId) files.add(file)
    return (async () => {
      await sync(streamId)
      for (const file of files) await removeThumb(file, streamId)
    })().catch((error) => failed('state-remove', 'cannot remove a forgotten stream\'s file; it is removed at the next start', { stream: streamId, why }, error))
  }

  /** Makes room for one more record, if an ended stream can give its place. */
  function evictOne(): boolean {
    for (const set of [spare, over]) {
      for (const streamId of set) {
        log.info('stream state full: forgetting an ended stream', { stream: streamId, maxStreams })
        limit('stream_evicted')
        void forget(streamId, 'evicted')
        return true
      }
    }
    return false
  }

  /** Frees at least `needed` bytes of thumbnails of ended streams (oldest first); resolves what it freed. */
  async function freeThumbnailBytes(needed: number, except: string): Promise<number> {
    let freed = 0
    for (const set of [spare, over]) {
      for (const streamId of [...set]) {
        if (freed >= needed) return freed
        const record = records.get(streamId)
        if (!record || streamId === except) continue
        const files = refsOf(record)
        if (files.size === 0) continue
        for (const file of files) freed += thumbSizes.get(file) ?? 0
        if (set === spare) {
          await forget(streamId, 'thumbnail bytes') // known from thumbnails alone: nothing left worth keeping
        } else {
          delete record.firstThumbnail
          delete record.latestThumbnail
          try {
            await sync(streamId)
          } catch (error) {
            lazy.add(streamId)
            scheduleLazy(RETRY_MS)
            failed('state-write', 'cannot save stream state; retrying', { stream: streamId }, error)
          }
          for (const file of files) await removeThumb(file, streamId)
        }
      }
    }
    return freed
  }

  // --- loading ---------------------------------------------------------------------------------------------
  const normalise = (raw: unknown): StreamRecord | undefined => {
    if (!raw || typeof raw !== 'object' || typeof (raw as StreamRecord).streamId !== 'string') return undefined
    const record = raw as StreamRecord
    if (record.status !== 'live' && record.status !== 'ending' && record.status !== 'ended') record.status = 'ended'
    record.feeds = copyDict(record.feeds, (feed) => (feed && typeof feed === 'object' ? feed as StreamRecord['feeds'][string] : undefined))
    record.alerts = copyDict(record.alerts, (sessions) => copyDict(sessions, (alert) => copyDict(alert, (v) => (typeof v === 'string' ? v : undefined))))
    if (!record.emitted || typeof record.emitted !== 'object') record.emitted = {}
    if (typeof record.updatedAt !== 'number') record.updatedAt = now()
    return record
  }

  const loaded: StreamRecord[] = []
  await migrateLegacy()
  const names = await readdir(recordsDir)
  for (let i = 0; i < names.length; i += LOAD_BATCH) {
    await Promise.all(names.slice(i, i + LOAD_BATCH).map(async (name) => {
      const path = join(recordsDir, name)
      if (name.endsWith('.tmp')) return rm(path, { force: true })
      if (!name.endsWith('.json')) return
      try {
        const record = normalise(JSON.parse(await readFile(path, 'utf8')))
        if (!record || `${streamKey(record.streamId)}.json` !== name) throw new Error('not the record of a stream with this file name')
        loaded.push(record)
      } catch (error) {
        log.error('a stream state file is unreadable; moved aside', { file: path, error: String(error) })
        await rename(path, `${path}.unreadable`).catch(() => {})
      }
    }))
  }
  // Oldest change first, so the eviction order survives a restart.
  loaded.sort((a, b) => a.updatedAt - b.updatedAt)
  for (const record of loaded) {
    records.set(record.streamId, record)
    classify(record)
  }
  const referenced = new Map<string, string>()
  for (const record of loaded) for (const file of refsOf(record)) referenced.set(file, record.streamId)
  const thumbFiles = await readdir(thumbsDir)
  for (let i = 0; i < thumbFiles.length; i += LOAD_BATCH) {
    await Promise.all(thumbFiles.slice(i, i + LOAD_BATCH).map(async (name) => {
      const path = join(thumbsDir, name)
      if (!referenced.has(name)) return rm(path, { force: true, recursive: true }) // temp files, and files of a crash
      const size = await stat(path).then((s) => s.size, () => undefined)
      if (size === undefined) return
      thumbSizes.set(name, size)
      thumbBytes += size
    }))
  }
  // Records that point to a file that is gone lose the reference.
  for (const record of loaded) {
    for (const key of ['firstThumbnail', 'latestThumbnail'] as const) {
      const ref = record[key]
      if (ref && !thumbSizes.has(thumbName(record.streamId, ref.eventId))) delete record[key]
    }
  }
  while (records.size > maxStreams && evictOne()) { /* fewer streams allowed than a previous config kept */ }

  async function migrateLegacy(): Promise<void> {
    const file = join(options.dir, LEGACY_FILE)
    const text = await readFile(file, 'utf8').catch(() => undefined)
    if (text === undefined) return
    let list: unknown
    try {
      list = JSON.parse(text)
      if (!Array.isArray(list)) throw new Error('not a list of streams')
    } catch (error) {
      log.error('stream state is unreadable; starting empty (the file is kept aside)', { file, error: String(error) })
      await rename(file, `${file}.unreadable`)
      return
    }
    let moved = 0
    for (const raw of list) {
      const record = normalise(raw)
      if (!record || record.streamId.length > STREAM_LIMITS.streamIdLength) continue
      for (const ref of [record.firstThumbnail, record.latestThumbnail]) {
        if (!ref || !EVENT_ID.test(ref.eventId)) continue
        const legacy = join(thumbsDir, `${encodeURIComponent(record.streamId)}.${ref.eventId}.jpg`)
        await rename(legacy, join(thumbsDir, thumbName(record.streamId, ref.eventId))).catch(() => {})
      }
      const path = recordPath(record.streamId)
      await writeFile(`${path}.tmp`, JSON.stringify(record))
      await rename(`${path}.tmp`, path)
      moved++
    }
    await rm(file)
    await rm(`${file}.tmp`, { force: true })
    log.info('stream state moved to one file per stream', { streams: moved, dir: recordsDir })
  }

  // --- sweeping --------------------------------------------------------------------------------------------
  async function sweep(): Promise<number> {
    const cutoff = now() - keepEndedMs
    let expired = 0
    for (const set of [spare, over]) {
      for (const streamId of [...set]) {
        const record = records.get(streamId)
        if (record && record.updatedAt < cutoff) {
          await forget(streamId, 'expired')
          limit('stream_expired')
          expired++
        }
      }
    }
    const graceCutoff = now() - LOOSE_GRACE_MS
    for (const [file, { streamId, at }] of [...loose]) {
      if (at > graceCutoff) continue
      if (refsOf(records.get(streamId)).has(file)) loose.delete(file)
      else await removeThumb(file, streamId)
    }
    if (expired > 0) log.info('forgot ended streams past streams.keepEnded', { streams: expired })
    return expired
  }
  await sweep()
  const sweepEveryMs = options.sweepEveryMs ?? Math.max(1_000, Math.min(3_600_000, keepEndedMs / 4))
  const sweepTimer = setInterval(() => {
    sweep().catch((error) => failed('sweep', 'cannot sweep the stream state; trying again later', {}, error))
  }, sweepEveryMs)
  ;(sweepTimer as { unref?: () => void }).unref?.()

  return {
    get: (streamId) => records.get(streamId),
    all: () => [...records.values()],
    async update(streamId, change, isLazy = false) {
      let record = records.get(streamId)
      if (!record) {
        if (streamId.length > STREAM_LIMITS.streamIdLength) {
          limit('stream_id_too_long')
          throw new StreamLimitError('stream_id_too_long', `a stream id of ${streamId.length} characters is not kept`)
        }
        if (records.size >= maxStreams && !evictOne()) {
          limit('streams_full')
          log.warn('stream state full of live streams: a new stream is not tracked (raise streams.maxStreams)', { stream: streamId.slice(0, 100), maxStreams })
          for (const [file, entry] of [...loose]) if (entry.streamId === streamId) await removeThumb(file, streamId)
          throw new StreamLimitError('streams_full', `stream state full: every one of the ${maxStreams} stream records is a live stream`)
        }
        record = { streamId, status: 'ended', feeds: dict(), alerts: dict(), emitted: {}, updatedAt: now() }
        records.set(streamId, record)
      }
      const before = refsOf(record)
      change(record)
      record.updatedAt = now()
      // Keep the recency order: a changed stream goes to the end.
      classify(record)
      const after = refsOf(record)
      for (const file of after) loose.delete(file)
      const dropped = [...before].filter((file) => !after.has(file))
      if (isLazy) {
        lazy.add(streamId)
        scheduleLazy(LAZY_MS)
      } else {
        lazy.delete(streamId)
        try {
          await sync(streamId)
        } catch (error) {
          // The caller sees the failure (a delivery is retried); the change is in memory, and written in the background.
          lazy.add(streamId)
          scheduleLazy(RETRY_MS)
          for (const file of dropped) loose.set(file, { streamId, at: 0 })
          throw error
        }
      }
      // Thumbnail files the record no longer refers to go (after the state that drops them is written).
      for (const file of dropped) await removeThumb(file, streamId)
      return record
    },
    async putThumbnail(ref, bytes) {
      const streamId = ref.event.streamId ?? ''
      if (!EVENT_ID.test(ref.eventId)) throw new Error(`not an event id: ${ref.eventId.slice(0, 80)}`)
      if (streamId.length > STREAM_LIMITS.streamIdLength) {
        limit('stream_id_too_long')
        return false
      }
      const file = thumbName(streamId, ref.eventId)
      if (thumbSizes.has(file)) return true // the same event: the same bytes
      // The stream's latest thumbnail, when it is not also its first, is about to be replaced by this one.
      const current = records.get(streamId)
      const replaced = current?.latestThumbnail && current.latestThumbnail.eventId !== current.firstThumbnail?.eventId
        ? thumbSizes.get(thumbName(streamId, current.latestThumbnail.eventId)) ?? 0
        : 0
      const excess = thumbBytes - replaced + bytes.byteLength - maxThumbnailBytes
      if (excess > 0 && (await freeThumbnailBytes(excess, streamId)) < excess) {
        limit('thumbnail_bytes')
        log.warn('thumbnail storage full of live streams\' thumbnails: one is not kept (raise streams.maxThumbnailBytes)', {
          stream: streamId.slice(0, 100), bytes: bytes.byteLength, maxThumbnailBytes,
        })
        return false
      }
      // Counted before it is written, so writes under way at once cannot all pass the limit.
      thumbSizes.set(file, bytes.byteLength)
      thumbBytes += bytes.byteLength
      loose.set(file, { streamId, at: now() })
      const path = join(thumbsDir, file)
      const temp = `${path}.${randomUUID()}.tmp`
      try {
        await writeFile(temp, bytes)
        await rename(temp, path)
      } catch (error) {
        await rm(temp, { force: true }).catch(() => {})
        thumbSizes.delete(file)
        thumbBytes -= bytes.byteLength
        loose.delete(file)
        throw error
      }
      return true
    },
    async thumbnail(streamId, eventId) {
      if (!EVENT_ID.test(eventId)) return undefined
      return readFile(join(thumbsDir, thumbName(streamId, eventId))).then((b) => new Uint8Array(b), () => undefined)
    },
    sweep,
    stats: () => ({ streams: records.size, thumbnailBytes: thumbBytes }),
    async close() {
      closed = true
      clearInterval(sweepTimer)
      clearTimeout(lazyTimer)
      lazyTimer = undefined
      await flushing
      if (lazy.size > 0) {
        const ids = [...lazy]
        lazy.clear()
        for (const streamId of ids) {
          await sync(streamId).catch((error) => failed('state-write', 'cannot save stream state at close; the change is lost', { stream: streamId }, error))
        }
      }
      while (slots.size > 0) await Promise.all([...slots.values()].map((slot) => slot.tail.catch(() => {})))
    },
  }
}

/** A null-prototype copy of a JSON object, each value passed through `each` (undefined drops it). */
function copyDict<T>(value: unknown, each: (value: unknown) => T | undefined): Record<string, T> {
  const out = dict<T>()
  if (!value || typeof value !== 'object' || Array.isArray(value)) return out
  for (const [key, item] of Object.entries(value)) {
    const kept = each(item)
    if (kept !== undefined) out[key] = kept
  }
  return out
}
