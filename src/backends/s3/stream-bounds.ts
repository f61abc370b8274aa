/**
 * The S3 stream store's bounds, kept with no lock and no counter object (either would be one object every writer
 * contends for): the records are listed (a LIST per 1,000) and compare-and-deleted. `admit` makes room for a new
 * stream or refuses it; `sweep`, bounded work for the scheduled run, forgets what is past the bounds.
 * @module
 */
import type { Logger } from '../../log.ts'
import { checkStreamIdFits, StreamLimitError } from '../../streams/stream-types.ts'
import { streamKey } from '../../streams/stream-key.ts'
import type { ListedObject } from './objects.ts'
import type { StoreReport } from '../../streams/store-report.ts'
import type { S3Records, S3Stored } from './stream-records.ts'
import { SLICES, type S3Thumbnails } from './thumbnails.ts'

/** Thumbnails of a stream with no record are left alone this long (its record may be on its way). */
const LOOSE_GRACE_MS = 60_000
/** Records read at most to find ended streams to evict, when a new stream finds the store full. */
const EXAMINE_READS = 256
/** Records read at most by one sweep. */
const SWEEP_READS = 1_000
/** Records forgotten at most by one sweep. */
const SWEEP_DELETES = 256
/** Evicted at most at once. */
const MAX_BATCH = 64
/** Between a put stamping `updatedAt` and S3 stamping Last-Modified: a record older by S3's clock may be due. */
const CLOCK_SLACK_MS = 5 * 60_000
/**
 * How long an eviction that freed nothing (every stream read live) is not tried again here: when the store is full
 * of live streams, every new stream would otherwise read the records again.
 */
const FRUITLESS_MS = 10_000
/**
 * How long a count of the records under TRUSTED_SHARE of maxStreams is trusted, with the streams this instance made
 * since added (a new stream then costs no LIST): other instances would have to make a tenth of maxStreams meanwhile to
 * pass the bound.
 */
const COUNT_FRESH_MS = 10_000
const TRUSTED_SHARE = 0.9

export interface S3StreamSweepOptions {
  /** Epoch ms (the real clock): no new step starts after it. */
  deadline?: number
}

export interface S3StreamBounds {
  /** Makes room for a new stream's record, or refuses it (StreamLimitError). */
  admit(streamId: string): Promise<void>
  /**
   * Forgets ended streams past `keepEndedMs` (and past `maxStreams`) and old thumbnails of no record; resolves how
   * many records expired.
   */
  sweep(options?: S3StreamSweepOptions): Promise<number>
}

interface S3StreamBoundsOptions {
  records: S3Records
  thumbs: S3Thumbnails
  report: StoreReport
  log: Logger
  now: () => number
  maxStreams: number
  keepEndedMs: number
}

/** Ended streams in the order they give up their place: those that never went live first, then the oldest change. */
const endedFirst = (stored: S3Stored[]) =>
  stored
    .filter(({ record }) => record.status === 'ended')
    .sort((a, b) => Number(!!a.record.session) - Number(!!b.record.session) || a.record.updatedAt - b.record.updatedAt)

const oldestFirst = (listed: readonly ListedObject[]) => [...listed].sort((a, b) => a.lastModified - b.lastModified)

/** What the bounds' steps share: the options, and what this instance remembers between calls. */
interface Bounds extends S3StreamBoundsOptions {
  /** Ended streams evicted at once when a new stream finds the store full. */
  batch: number
  /** Below this many records, a fresh count is trusted (see admit). */
  trusted: number
  /** No eviction is tried before this time (epoch ms, the real clock): the last one freed nothing. */
  fruitlessUntil: number
  /** The records counted at `at`, plus the streams admitted here since. */
  counted: { at: number; records: number } | undefined
  /** The next slice of the loose-thumbnail sweep; where a new instance starts follows the clock. */
  slice: number
}

export function s3StreamBounds(options: S3StreamBoundsOptions): S3StreamBounds {
  const bounds: Bounds = {
    ...options,
    batch: Math.min(MAX_BATCH, Math.max(1, Math.ceil(options.maxStreams / 100))),
    trusted: Math.floor(options.maxStreams * TRUSTED_SHARE),
    fruitlessUntil: 0,
    counted: undefined,
    slice: Math.floor(options.now() / 60_000),
  }
  return {
    admit: (streamId) => admit(bounds, streamId),
    sweep: (sweepOptions) => sweep(bounds, sweepOptions),
  }
}

/**
 * At `maxStreams`, evicts a batch of ended streams, never a live or ending one (each delete is at the ETag of the
 * ended version read); when none can go, refuses the new stream and removes its thumbnails. Invocations making
 * streams at once may each count `maxStreams - 1`, so the bound may be passed by as many: the sweep brings it back.
 */
async function admit(bounds: Bounds, streamId: string): Promise<void> {
  const { records, thumbs, report, log, now, maxStreams, counted } = bounds
  checkStreamIdFits(streamId, (what) => report.limit(what))
  if (counted && now() - counted.at < COUNT_FRESH_MS && counted.records + 1 <= bounds.trusted) {
    counted.records++
    return
  }
  const listed = await records.list()
  bounds.counted = { at: now(), records: listed.length + 1 }
  if (listed.length < maxStreams) return
  bounds.counted = undefined // at the bound: count again next time
  const want = Math.min(MAX_BATCH, Math.max(bounds.batch, listed.length - maxStreams + 1))
  if ((await evict(bounds, listed, want, EXAMINE_READS, Infinity, streamId)) > 0) return
  report.limit('streams_full')
  log.warn('stream state full of live streams: a new stream is not tracked (raise streams.maxStreams)', {
    stream: streamId.slice(0, 100),
    maxStreams,
  })
  await thumbs.removeStoredBefore(streamKey(streamId), Infinity).catch(() => {}) // the sweep takes what is left
  throw new StreamLimitError(
    'streams_full',
    `stream state full: every one of the ${maxStreams} stream records is a live stream`,
  )
}

/** Ended streams past `keepEndedMs`, then ended streams past `maxStreams`, then a slice of loose thumbnails. */
async function sweep(bounds: Bounds, { deadline = Infinity }: S3StreamSweepOptions = {}): Promise<number> {
  const { records, maxStreams } = bounds
  const listed = await records.list()
  records.retain(listed)
  const gone = await expireEnded(bounds, listed, deadline)
  const left = listed.filter((object) => !gone.has(object.key))
  if (left.length > maxStreams && Date.now() < deadline) {
    await evict(bounds, left, Math.min(MAX_BATCH, left.length - maxStreams), SWEEP_READS, deadline)
  }
  if (Date.now() < deadline) await sweepLooseThumbnails(bounds, left, deadline)
  return gone.size
}

/**
 * Forgets ended streams past `keepEndedMs`, reading only records S3 has seen unchanged that long; resolves the keys
 * of the records that went.
 */
async function expireEnded(bounds: Bounds, listed: readonly ListedObject[], deadline: number): Promise<Set<string>> {
  const { records, report, log, now, keepEndedMs } = bounds
  const cutoff = now() - keepEndedMs
  const old = oldestFirst(listed.filter((object) => object.lastModified < cutoff + CLOCK_SLACK_MS))
  const due = endedFirst(await records.load(old, { budget: SWEEP_READS, deadline })).filter(
    ({ record }) => record.updatedAt < cutoff,
  )
  const gone = new Set<string>()
  for (const stored of due.slice(0, SWEEP_DELETES)) {
    if (Date.now() >= deadline) break
    if (!(await records.deleteAt(stored))) continue // changed meanwhile: not due any more
    report.limit('stream_expired')
    gone.add(stored.key)
  }
  if (gone.size > 0) log.info('forgot ended streams past streams.keepEnded', { streams: gone.size })
  return gone
}

/** Removes one slice of the thumbnails of streams with no record among `left` (the records still listed). */
async function sweepLooseThumbnails(bounds: Bounds, left: readonly ListedObject[], deadline: number): Promise<void> {
  const { records, thumbs, log, now } = bounds
  const withRecord = new Set(left.map((object) => records.hashOf(object.key)))
  const slice = SLICES[bounds.slice++ % SLICES.length]!
  const removed = await thumbs.sweepLoose(slice, withRecord, now() - LOOSE_GRACE_MS, deadline)
  if (removed > 0) log.info('removed thumbnails of streams with no record', { thumbnails: removed })
}

/**
 * Evicts up to `want` ended streams (never `except`), reading at most `reads` records, the oldest Last-Modified
 * first (those known at their ETag cost no read); resolves how many went.
 */
async function evict(
  bounds: Bounds,
  listed: readonly ListedObject[],
  want: number,
  reads: number,
  deadline: number,
  except?: string,
): Promise<number> {
  const { records, report, log, maxStreams } = bounds
  if (Date.now() < bounds.fruitlessUntil) return 0
  const known = await records.load(oldestFirst(listed), { budget: reads, deadline })
  let evicted = 0
  for (const stored of endedFirst(known)) {
    if (evicted >= want || Date.now() >= deadline) break
    if (stored.record.streamId === except || !(await records.deleteAt(stored))) continue
    log.info('stream state full: forgetting an ended stream', { stream: stored.record.streamId, maxStreams })
    report.limit('stream_evicted')
    evicted++
  }
  if (evicted === 0) bounds.fruitlessUntil = Date.now() + FRUITLESS_MS
  return evicted
}
