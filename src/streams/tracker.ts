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
import type { StreamRecord, StreamStore, ThumbnailRef } from './types.ts'
import { isActive } from './active-feeds.ts'

export const TRACKER_NAME = '@streams'

/** How long the newest thumbnail of a stream waits in memory before it is written (they come every 30 s). */
const LATEST_FLUSH_MS = 1_000

/** A thumbnail may predate the feed's `started` hook by this much and still be the session's first. */
const THUMBNAIL_SLACK_MS = 30_000

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
}

export function createStreamTracker(options: TrackerOptions): StreamTracker {
  const { store, log } = options
  const now = options.now ?? Date.now
  const endTimers = new Map<string, ReturnType<typeof setTimeout>>()
  const latestPending = new Map<string, { ref: ThumbnailRef; body: Uint8Array }>()
  let flushTimer: ReturnType<typeof setTimeout> | undefined
  let closed = false

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
    clearTimeout(endTimers.get(record.streamId))
    endTimers.delete(record.streamId)
    if (record.status !== 'ending' || closed) return
    const wait = Math.max(0, (record.endingSince ?? now()) + options.flapWindowMs - now())
    endTimers.set(record.streamId, setTimeout(() => {
      endTimers.delete(record.streamId)
      void finish(record.streamId).catch((error) => {
        log.error('cannot end a stream session; retrying in 5 s', { stream: record.streamId, error: String(error) })
        if (!closed) endTimers.set(record.streamId, setTimeout(() => void finish(record.streamId), 5_000))
      })
    }, wait))
  }

  /** The flap window passed with no feed back: the session is over. */
  async function finish(streamId: string): Promise<void> {
    const record = await store.update(streamId, (r) => {
      if (r.status !== 'ending' || (r.endingSince ?? 0) + options.flapWindowMs > now()) return
      r.status = 'ended'
      delete r.endingSince
      for (const [id, feed] of Object.entries(r.feeds)) if (feed.ended !== undefined) delete r.feeds[id]
    })
    if (record.status === 'ending') armEnd(record)
    await emitPending(record)
  }

  async function onFeed(event: HookEvent): Promise<void> {
    const feedId = event.feedId
    const streamId = event.streamId
    if (!feedId || !streamId) return
    const payloadTime = (key: 'started' | 'ended') => (typeof event.data?.[key] === 'number' ? event.data[key] : event.timestamp)
    const record = await store.update(streamId, (r) => {
      if (event.accountId) r.accountId = event.accountId
      if (event.streamName) r.streamName = event.streamName
      applyFeed(r, feedId, event.event, payloadTime(event.event === 'started' ? 'started' : 'ended'), now())
    })
    armEnd(record)
    await emitPending(record)
  }

  async function onThumbnail(event: HookEvent): Promise<void> {
    const streamId = event.streamId!
    const { body, data: _data, ...meta } = event
    const ref: ThumbnailRef = { eventId: event.id, timestamp: event.timestamp, ...(event.feedId ? { feedId: event.feedId } : {}), event: meta }
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
      latestPending.set(streamId, { ref, body })
      flushTimer ??= setTimeout(() => void flushLatest(), LATEST_FLUSH_MS)
      return
    }
    // A session's first thumbnail must survive a crash: it is in the live alert.
    await store.putThumbnail(ref, body)
    await store.update(streamId, (r) => takeThumbnail(r, ref, event))
  }

  async function flushLatest(): Promise<void> {
    flushTimer = undefined
    const batch = [...latestPending.values()]
    latestPending.clear()
    for (const { ref, body } of batch) {
      try {
        await store.putThumbnail(ref, body)
        await store.update(ref.event.streamId!, (r) => takeThumbnail(r, ref, ref.event), true)
      } catch (error) {
        log.error('cannot save a stream\'s latest thumbnail', { stream: ref.event.streamId, error: String(error) })
      }
    }
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
        await emitPending(record).catch((error) => log.error('cannot emit a stream transition', { stream: record.streamId, error: String(error) }))
      }
    },
    async close() {
      closed = true
      for (const timer of endTimers.values()) clearTimeout(timer)
      endTimers.clear()
      clearTimeout(flushTimer)
      await flushLatest()
    },
  }
}

/** Records a thumbnail as the stream's latest and, when it is, its session's first. */
function takeThumbnail(r: StreamRecord, ref: ThumbnailRef, event: { streamName?: string; accountId?: string }): void {
  if (!r.latestThumbnail || ref.timestamp >= r.latestThumbnail.timestamp) r.latestThumbnail = ref
  if (isFirstOfSession(r, ref)) r.firstThumbnail = ref
  if (!r.streamName && event.streamName) r.streamName = event.streamName
  if (!r.accountId && event.accountId) r.accountId = event.accountId
}

/** Applies one feed hook to a stream's record: the heart of the lifecycle. */
export function applyFeed(r: StreamRecord, feedId: string, event: string, at: number, now: number): void {
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
