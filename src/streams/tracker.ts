/**
 * Stream lifecycle from feed hooks and thumbnails.
 *
 * Feeds are per publisher (redundant ingest, multi-source and simulcast give several per stream; a reconnect is an
 * ended + started pair), and hooks arrive in any order. A stream is live while at least one feed is active; it
 * goes live once per session, and when its last feed ends it waits `flapWindowMs` before the session ends, so a
 * publisher reconnecting inside the window continues the same session. Each transition is handed to the pipeline
 * as a `stream` event (`live`, `ended`).
 *
 * The tracker is itself a destination, fed from the spool: what it learns is as durable as the hooks themselves.
 * @module
 */
import type { Destination } from '../destinations/types.ts'
import type { HookEvent } from '../events/types.ts'
import type { Logger } from '../log.ts'
import { lifecycleEvent } from './lifecycle-event.ts'
import { dict, STREAM_LIMITS, StreamLimitError, type StreamRecord, type StreamStore, type ThumbnailRef } from './types.ts'
import { isActive } from './active-feeds.ts'

export const TRACKER_NAME = '@streams'

/** How long the newest thumbnail of a stream waits in memory before it is written (they come every 30 s). */
const LATEST_FLUSH_MS = 1_000

/** A thumbnail may predate the feed's `started` hook by this much and still be the session's first. */
const THUMBNAIL_SLACK_MS = 30_000

/**
 * How far in the future, past the time hookcast received it, a hook's own time may be and still steer the state.
 * The thumbnail headers are not signed, so a replay can carry any `X-Millicast-Timestamp`; a feed payload's
 * `started`/`ended` should never be ahead of its delivery. A time further ahead is taken as the time of receipt
 * (clamped, not dropped): the hook still counts, in the order it arrived, and it cannot stay "the latest" or open
 * a session that ends in the future. The stored event keeps its own timestamp (sinks keyed it by that).
 */
export const FUTURE_SKEW_MS = 5 * 60_000

/** Pending latest thumbnails are written at once past this many bytes (they wait a second otherwise). */
const LATEST_PENDING_MAX_BYTES = 32 * 1024 * 1024

/** A background step that failed is retried after 5 s, doubling up to a minute. */
const RETRY_MS = 5_000
const MAX_RETRY_MS = 60_000
const retryDelay = (attempt: number) => Math.min(MAX_RETRY_MS, RETRY_MS * 2 ** attempt)

/** A hook's own time, bounded by the time it was received (see FUTURE_SKEW_MS). */
export function boundedTime(at: number, receivedAt: number): number {
  if (!Number.isFinite(at)) return receivedAt
  return at > receivedAt + FUTURE_SKEW_MS ? receivedAt : at
}

export interface StreamTracker extends Destination {
  /** Whether an event kind is one the tracker needs to see. */
  wants(event: HookEvent): boolean
  /** Re-arms flap windows and re-emits transitions a crash interrupted. */
  start(): Promise<void>
}

export interface TrackerOptions {
  store: StreamStore
  flapWindowMs: number
  /** Hands a lifecycle event to the pipeline (route, spool); resolves once it is accepted. */
  emit(event: HookEvent): Promise<void>
  log: Logger
  now?: () => number
  /** A background step (ending a session, emitting a transition, writing the latest thumbnail) failed; it is retried. */
  onBackgroundFailure?(task: string): void
  /** A bound was hit or a value was bounded (`stream_id_too_long`, `feed_id_too_long`, `feeds_full`, `future_timestamp`). */
  onLimit?(limit: string): void
}

export function createStreamTracker(options: TrackerOptions): StreamTracker {
  const { store, log } = options
  const now = options.now ?? Date.now
  /** Per stream: the flap-window timer, or the retry of a background step that failed. */
  const timers = new Map<string, ReturnType<typeof setTimeout>>()
  const latestPending = new Map<string, { ref: ThumbnailRef; body: Uint8Array }>()
  let pendingBytes = 0
  let flushTimer: ReturnType<typeof setTimeout> | undefined
  let flushRetries = 0
  let closed = false

  const count = (callback: ((what: string) => void) | undefined, what: string) => {
    try {
      callback?.(what)
    } catch {
      // metrics must not turn a handled failure into a crash
    }
  }
  const failed = (task: string, message: string, fields: Record<string, unknown>, error: unknown) => {
    log.error(message, { ...fields, error: String(error) })
    count(options.onBackgroundFailure, task)
  }
  const limit = (what: string) => count(options.onLimit, what)

  /** Emits what the record's state calls for and has not been emitted yet. */
  async function emitPending(record: StreamRecord): Promise<void> {
    if (!record.session) return
    if (record.emitted.live !== record.session) {
      await options.emit(await lifecycleEvent(record, 'live', now()))
      await store.update(record.streamId, (r) => { r.emitted.live = record.session })
    }
    if (record.status === 'ended' && record.emitted.ended !== record.session) {
      await options.emit(await lifecycleEvent(record, 'ended', now()))
      await store.update(record.streamId, (r) => { r.emitted.ended = record.session })
    }
  }

  function armEnd(record: StreamRecord): void {
    clearTimeout(timers.get(record.streamId))
    timers.delete(record.streamId)
    if (record.status !== 'ending' || closed) return
    settleLater(record.streamId, Math.max(0, (record.endingSince ?? now()) + options.flapWindowMs - now()), 0)
  }

  /**
   * Runs `settle` for a stream after `wait`; a failure is logged, counted and retried with a backoff, for as long
   * as it takes (a full disk, an unwritable state dir, a spool refusing the transition): never an unhandled rejection.
   */
  function settleLater(streamId: string, wait: number, attempt: number): void {
    if (closed) return
    clearTimeout(timers.get(streamId))
    timers.set(streamId, setTimeout(() => {
      timers.delete(streamId)
      settle(streamId).catch((error) => {
        const delay = retryDelay(attempt)
        failed('settle', `cannot end a stream session or hand on its transition; retrying in ${delay / 1000} s`, { stream: streamId }, error)
        if (!timers.has(streamId)) settleLater(streamId, delay, attempt + 1)
      })
    }, wait))
  }

  /** Ends the session when the flap window passed with no feed back, and hands on what is still to be emitted. */
  async function settle(streamId: string): Promise<void> {
    if (!store.get(streamId)) return // forgotten meanwhile
    const record = await store.update(streamId, (r) => {
      if (r.status !== 'ending' || (r.endingSince ?? 0) + options.flapWindowMs > now()) return
      r.status = 'ended'
      delete r.endingSince
      for (const [id, feed] of Object.entries(r.feeds)) if (feed.ended !== undefined) delete r.feeds[id]
    })
    if (record.status === 'ending') armEnd(record)
    await emitPending(record)
  }

  /** Runs a store change that may create the record; a refusal (limits) means the stream is not tracked. */
  async function tracked(streamId: string, change: (r: StreamRecord) => void, lazy?: boolean): Promise<StreamRecord | undefined> {
    try {
      return await store.update(streamId, change, lazy)
    } catch (error) {
      if (!(error instanceof StreamLimitError)) throw error
      log.warn('stream not tracked', { stream: streamId.slice(0, 100), reason: error.message })
      return undefined
    }
  }

  async function onFeed(event: HookEvent): Promise<void> {
    const feedId = event.feedId
    const streamId = event.streamId
    if (!feedId || !streamId) return
    if (streamId.length > STREAM_LIMITS.streamIdLength) {
      limit('stream_id_too_long')
      log.warn('feed hook with a stream id too long to be one; not tracked', { id: event.id, length: streamId.length })
      return
    }
    if (feedId.length > STREAM_LIMITS.feedIdLength) {
      limit('feed_id_too_long')
      log.warn('feed hook with a feed id too long to be one; not tracked', { id: event.id, stream: streamId, length: feedId.length })
      return
    }
    const kind = event.event === 'started' ? 'started' : 'ended'
    const stated = typeof event.data?.[kind] === 'number' ? event.data[kind] as number : event.timestamp
    const at = boundedTime(stated, event.receivedAt)
    if (at !== stated) {
      limit('future_timestamp')
      log.warn('feed hook time is ahead of its receipt; taken as received', { id: event.id, stream: streamId, stated, receivedAt: event.receivedAt })
    }
    const names = namesOf(event)
    let full = false
    const record = await tracked(streamId, (r) => {
      if (names.accountId) r.accountId = names.accountId
      if (names.streamName) r.streamName = names.streamName
      if (!roomForFeed(r, feedId)) {
        full = true
        return
      }
      applyFeed(r, feedId, event.event, at, now())
    })
    if (full) {
      limit('feeds_full')
      log.warn('stream has too many active feeds; this one is not tracked', { stream: streamId, feed: feedId.slice(0, 100) })
    }
    if (!record) return
    armEnd(record)
    await emitPending(record)
  }

  async function onThumbnail(event: HookEvent): Promise<void> {
    const streamId = event.streamId!
    if (streamId.length > STREAM_LIMITS.streamIdLength) {
      limit('stream_id_too_long')
      return
    }
    const { body, data: _data, ...meta } = event
    const timestamp = boundedTime(event.timestamp, event.receivedAt)
    if (timestamp !== event.timestamp) {
      limit('future_timestamp')
      log.warn('thumbnail time is ahead of its receipt; taken as received', { id: event.id, stream: streamId, stated: event.timestamp, receivedAt: event.receivedAt })
    }
    const ref: ThumbnailRef = { eventId: event.id, timestamp, ...(event.feedId ? { feedId: event.feedId } : {}), event: meta }
    const current = store.get(streamId)
    const newest = Math.max(current?.latestThumbnail?.timestamp ?? -Infinity, latestPending.get(streamId)?.ref.timestamp ?? -Infinity)
    const isFirst = isFirstOfSession(current, ref)
    if (ref.timestamp < newest && !isFirst) return
    if (current && !Object.hasOwn(current.feeds, event.feedId ?? '')) {
      // The metadata headers are not signed: a feed id we never heard of is worth a line in the log.
      log.debug('thumbnail for a feed not seen in feed hooks', { stream: streamId, feed: event.feedId })
    }
    if (!isFirst) {
      // The latest one changes every 30 s and a crash may lose it: keep the newest per stream, write it in a second.
      const previous = latestPending.get(streamId)
      pendingBytes += body.byteLength - (previous?.body.byteLength ?? 0)
      latestPending.set(streamId, { ref, body })
      if (pendingBytes > LATEST_PENDING_MAX_BYTES) {
        clearTimeout(flushTimer)
        flushTimer = undefined
        await flushLatest()
      } else {
        scheduleFlush(LATEST_FLUSH_MS)
      }
      return
    }
    // A session's first thumbnail must survive a crash: it is in the live alert.
    if ((await store.putThumbnail(ref, body)) === false) return
    await tracked(streamId, (r) => takeThumbnail(r, ref, event))
  }

  function scheduleFlush(wait: number): void {
    if (closed) return
    flushTimer ??= setTimeout(() => {
      flushTimer = undefined
      flushLatest().catch((error) => failed('latest-thumbnail', 'cannot save latest thumbnails', {}, error))
    }, wait)
  }

  /** Writes the pending latest thumbnails; one that fails waits for the next try (unless a newer one came). */
  async function flushLatest(): Promise<void> {
    const batch = [...latestPending.values()]
    latestPending.clear()
    pendingBytes = 0
    let failures = 0
    for (const item of batch) {
      const { ref, body } = item
      const streamId = ref.event.streamId!
      try {
        if ((await store.putThumbnail(ref, body)) === false) continue
        await tracked(streamId, (r) => takeThumbnail(r, ref, ref.event), true)
      } catch (error) {
        failures++
        failed('latest-thumbnail', 'cannot save a stream\'s latest thumbnail; retrying', { stream: streamId }, error)
        const newer = latestPending.get(streamId)
        if (!newer && !closed) {
          latestPending.set(streamId, item)
          pendingBytes += body.byteLength
        }
      }
    }
    if (failures === 0) flushRetries = 0
    else if (latestPending.size > 0) scheduleFlush(Math.min(MAX_RETRY_MS, LATEST_FLUSH_MS * 2 ** ++flushRetries))
  }

  return {
    name: TRACKER_NAME,
    kind: 'internal',
    wants: (event) => (event.type === 'feeds' && (event.event === 'started' || event.event === 'ended')) ||
      (event.type === 'thumbnail' && event.streamId !== undefined),
    async deliver(event) {
      if (event.type === 'feeds') await onFeed(event)
      else if (event.type === 'thumbnail') await onThumbnail(event)
    },
    async start() {
      for (const record of store.all()) {
        armEnd(record)
        await emitPending(record).catch((error) => {
          failed('settle', 'cannot hand on a stream transition; retrying', { stream: record.streamId }, error)
          if (!timers.has(record.streamId)) settleLater(record.streamId, retryDelay(0), 1) // an armed window settles it too
        })
      }
    },
    async close() {
      closed = true
      for (const timer of timers.values()) clearTimeout(timer)
      timers.clear()
      clearTimeout(flushTimer)
      flushTimer = undefined
      await flushLatest().catch((error) => failed('latest-thumbnail', 'cannot save latest thumbnails at close', {}, error))
    },
  }
}

/** The account id and stream name of a hook, each only when it is of a sane length. */
function namesOf(event: HookEvent): { accountId?: string; streamName?: string } {
  const fits = (value: string | undefined) => (value && value.length <= STREAM_LIMITS.nameLength ? value : undefined)
  const slash = event.streamId?.indexOf('/') ?? -1
  return {
    accountId: fits(event.accountId) ?? (slash > 0 ? fits(event.streamId!.slice(0, slash)) : undefined),
    streamName: fits(event.streamName) ?? (slash > 0 ? fits(event.streamId!.slice(slash + 1)) : undefined),
  }
}

/**
 * Whether a stream can keep one more feed: a known feed always; a new one while under the bound, after dropping
 * the oldest ended feeds when at it. All active and at the bound: no.
 */
export function roomForFeed(r: StreamRecord, feedId: string): boolean {
  if (Object.hasOwn(r.feeds, feedId)) return true
  const ids = Object.keys(r.feeds)
  if (ids.length < STREAM_LIMITS.feedsPerStream) return true
  const ended = ids.filter((id) => r.feeds[id]!.ended !== undefined).sort((a, b) => r.feeds[a]!.ended! - r.feeds[b]!.ended!)
  for (const id of ended.slice(0, ids.length - STREAM_LIMITS.feedsPerStream + 1)) delete r.feeds[id]
  return Object.keys(r.feeds).length < STREAM_LIMITS.feedsPerStream
}

/** Records a thumbnail as the stream's latest and, when it is, its session's first. */
function takeThumbnail(r: StreamRecord, ref: ThumbnailRef, event: { streamName?: string; accountId?: string }): void {
  if (!r.latestThumbnail || ref.timestamp >= r.latestThumbnail.timestamp) r.latestThumbnail = ref
  if (isFirstOfSession(r, ref)) r.firstThumbnail = ref
  if (!r.streamName && event.streamName && event.streamName.length <= STREAM_LIMITS.nameLength) r.streamName = event.streamName
  if (!r.accountId && event.accountId && event.accountId.length <= STREAM_LIMITS.nameLength) r.accountId = event.accountId
}

/**
 * Applies one feed hook to a stream's record: the heart of the lifecycle. Feed ids are input: `r.feeds` is a
 * null-prototype object (made one here if it is not), so `__proto__` or `constructor` is a feed id like any other.
 */
export function applyFeed(r: StreamRecord, feedId: string, event: string, at: number, now: number): void {
  if (Object.getPrototypeOf(r.feeds) !== null) r.feeds = Object.assign(dict<StreamRecord['feeds'][string]>(), r.feeds)
  if (event === 'started' && r.status === 'ended' && r.endedAt !== undefined && at < r.endedAt && !r.feeds[feedId]) {
    return // a late `started` of a session that is over
  }
  const feed = (r.feeds[feedId] ??= {})
  if (event === 'started') feed.started = at
  else if (event === 'ended') feed.ended = at
  else return

  const active = Object.values(r.feeds).filter(isActive)
  if (active.length > 0) {
    if (r.status === 'ending') {
      r.status = 'live' // a flap: the same session goes on
      delete r.endingSince
    } else if (r.status === 'ended') {
      startSession(r, Math.min(...active.map((f) => f.started!)))
    }
    return
  }
  if (feed.started === undefined || feed.ended === undefined) return // an `ended` whose `started` is still to come
  if (r.status === 'ended') {
    if (r.endedAt !== undefined && feed.ended <= r.endedAt) return // belongs to a session already over
    startSession(r, feed.started) // a publish so short its hooks crossed: it was live all the same
  }
  r.endedAt = Math.max(r.status === 'ending' ? r.endedAt ?? 0 : 0, feed.ended)
  r.status = 'ending'
  r.endingSince = now
}

function startSession(r: StreamRecord, liveSince: number): void {
  r.status = 'live'
  r.liveSince = liveSince
  r.session = `${r.streamId}@${liveSince}`
  delete r.endedAt
  delete r.endingSince
  delete r.firstThumbnail
  if (r.latestThumbnail && isFirstOfSession(r, r.latestThumbnail)) r.firstThumbnail = r.latestThumbnail
}

function isFirstOfSession(r: StreamRecord | undefined, ref: ThumbnailRef): boolean {
  if (!r || r.status === 'ended' || r.liveSince === undefined) return false
  if (ref.timestamp < r.liveSince - THUMBNAIL_SLACK_MS) return false
  return !r.firstThumbnail || ref.timestamp < r.firstThumbnail.timestamp
}
