/**
 * The rules of the stream lifecycle, as pure functions over a StreamRecord: no I/O, no timers, no clock but `now`.
 * Feeds are per publisher (several per stream; a reconnect is an ended + started pair) and hooks arrive in any
 * order. A stream is live while a feed is active; when its last feed ends it is `ending` for the flap window (a
 * publisher back within it continues the session), then `ended`. `live` (once the first thumbnail is in, or the wait
 * for it is over), the health events and `ended` are handed on once per session, in that order: whoever makes one due
 * claims it in the same write, so of several trackers racing on a stream exactly one does.
 * @module
 */
import type { HookEvent } from '../events/types.ts'
import { dict, STREAM_LIMITS, type StreamRecord, type ThumbnailRef, type Transition } from './stream-types.ts'
import { isActive } from './active-feeds.ts'
import { closeHealth, dropHandedOn } from './health-rules.ts'
import { noteHeard } from './silence-rules.ts'

/**
 * How far in the future, past the time hookcast received it, a hook's own time may be and still steer the state.
 * The thumbnail headers are not signed, so a replay can carry any `X-Millicast-Timestamp`; a feed payload's
 * `started`/`ended` should never be ahead of its delivery. A time further ahead is taken as the time of receipt
 * (clamped, not dropped): the hook still counts, in the order it arrived, and it cannot stay "the latest" or open
 * a session that ends in the future. The stored event keeps its own timestamp (sinks keyed it by that).
 */
const FUTURE_SKEW_MS = 5 * 60_000

/** A thumbnail may predate the feed's `started` hook by this much and still be the session's first. */
export const THUMBNAIL_SLACK_MS = 30_000

/**
 * A claim on a transition older than this is anybody's: its holder's delivery should have handed it on (or been
 * retried) long before, so it is gone (a dead letter, a version that did not claim).
 */
export const CLAIM_MS = 5 * 60_000

/** A hook's own time, bounded by the time it was received (see FUTURE_SKEW_MS). */
export function boundedTime(at: number, receivedAt: number): number {
  if (!Number.isFinite(at)) return receivedAt
  return at > receivedAt + FUTURE_SKEW_MS ? receivedAt : at
}

/** A feed hook's time (payload `started`/`ended`, else the envelope's), as stated and as bounded. */
export function feedTime(event: HookEvent): { stated: number; at: number } {
  const kind = event.event === 'started' ? 'started' : 'ended'
  const stated = typeof event.data?.[kind] === 'number' ? (event.data[kind] as number) : event.timestamp
  return { stated, at: boundedTime(stated, event.receivedAt) }
}

/** The account id and stream name of a hook, each only when it is of a sane length. */
export function namesOf(event: HookEvent): { accountId?: string; streamName?: string } {
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
  const ended = ids
    .filter((id) => r.feeds[id]!.ended !== undefined)
    .sort((a, b) => r.feeds[a]!.ended! - r.feeds[b]!.ended!)
  for (const id of ended.slice(0, ids.length - STREAM_LIMITS.feedsPerStream + 1)) delete r.feeds[id]
  return Object.keys(r.feeds).length < STREAM_LIMITS.feedsPerStream
}

/**
 * Whether every feed slot of the stream is taken by an active feed: then a hook of a feed the record does not know
 * changes nothing (roomForFeed is false and drops nothing). Reads only: the record may be a store's own.
 */
export function feedSlotsAllActive(r: Readonly<StreamRecord>): boolean {
  let count = 0
  for (const id in r.feeds) {
    if (!isActive(r.feeds[id]!)) return false
    count++
  }
  return count >= STREAM_LIMITS.feedsPerStream
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
      startSession(r, Math.min(...active.map((f) => f.started!)), now)
    }
    return
  }
  if (feed.started === undefined || feed.ended === undefined) return // an `ended` whose `started` is still to come
  if (r.status === 'ended') {
    if (r.endedAt !== undefined && feed.ended <= r.endedAt) return // belongs to a session already over
    startSession(r, feed.started, now) // a publish so short its hooks crossed: it was live all the same
  }
  r.endedAt = Math.max(r.status === 'ending' ? (r.endedAt ?? 0) : 0, feed.ended)
  r.status = 'ending'
  r.endingSince = now
}

function startSession(r: StreamRecord, liveSince: number, now: number): void {
  r.status = 'live'
  r.liveSince = liveSince
  r.session = `${r.streamId}@${liveSince}`
  r.openedAt = now
  delete r.endedAt
  delete r.endingSince
  delete r.endedBy
  delete r.firstThumbnail
  if (r.latestThumbnail && isFirstOfSession(r, r.latestThumbnail)) r.firstThumbnail = r.latestThumbnail
}

/** When an ending session's flap window closes (epoch ms); undefined when the stream is not ending. */
export function endsAt(r: StreamRecord, flapWindowMs: number): number | undefined {
  return r.status === 'ending' ? (r.endingSince ?? 0) + flapWindowMs : undefined
}

/** Ends the session when its flap window passed with no feed back; true when it did. */
export function finishIfDue(r: StreamRecord, now: number, flapWindowMs: number): boolean {
  const at = endsAt(r, flapWindowMs)
  if (at === undefined || at > now) return false
  r.status = 'ended'
  r.endedBy = 'hook'
  delete r.endingSince
  for (const [id, feed] of Object.entries(r.feeds)) if (feed.ended !== undefined) delete r.feeds[id]
  closeHealth(r)
  return true
}

/** Records a thumbnail as the stream's latest and, when it is, its session's first. */
export function takeThumbnail(
  r: StreamRecord,
  ref: ThumbnailRef,
  event: { streamName?: string; accountId?: string },
): void {
  if (!r.latestThumbnail || ref.timestamp >= r.latestThumbnail.timestamp) r.latestThumbnail = ref
  if (isFirstOfSession(r, ref)) r.firstThumbnail = ref
  if (r.status !== 'ended') noteHeard(r, ref.event.receivedAt)
  if (!r.streamName && event.streamName && event.streamName.length <= STREAM_LIMITS.nameLength)
    r.streamName = event.streamName
  if (!r.accountId && event.accountId && event.accountId.length <= STREAM_LIMITS.nameLength)
    r.accountId = event.accountId
}

export function isFirstOfSession(r: StreamRecord | undefined, ref: ThumbnailRef): boolean {
  if (!r || r.status === 'ended' || r.liveSince === undefined) return false
  if (ref.timestamp < r.liveSince - THUMBNAIL_SLACK_MS) return false
  return !r.firstThumbnail || ref.timestamp < r.firstThumbnail.timestamp
}

/**
 * When the `live` event's wait for the session's first thumbnail ends (epoch ms); undefined when it does not wait
 * (handed on, or a thumbnail is in, or the session is no longer live, or no wait is set).
 */
export function liveWaitEndsAt(r: Readonly<StreamRecord>, thumbnailWaitMs: number): number | undefined {
  if (thumbnailWaitMs <= 0 || !r.session || r.emitted.live === r.session) return undefined
  if (r.firstThumbnail || r.status !== 'live') return undefined
  return (r.openedAt ?? 0) + thumbnailWaitMs
}

/**
 * The transitions of the current session that are due and not handed on yet, in order: nothing before its `live`,
 * which waits up to `thumbnailWaitMs` (from `openedAt`) for the first thumbnail.
 */
export function dueTransitions(r: Readonly<StreamRecord>, now = 0, thumbnailWaitMs = 0): Transition[] {
  if (!r.session) return []
  const due: Transition[] = []
  if (r.emitted.live !== r.session) {
    const waitEnds = liveWaitEndsAt(r, thumbnailWaitMs)
    if (waitEnds !== undefined && now < waitEnds) return due
    due.push('live')
  }
  if (r.health?.session === r.session && r.health.outbox.length > 0) due.push('health')
  if (r.status === 'ended' && r.emitted.ended !== r.session) due.push('ended')
  return due
}

/**
 * Claims, for `by` (a delivery's event id), the due transitions nobody else holds: unclaimed, claimed by `by`
 * before (a redelivery after a crash takes up its own claim), or claimed longer than CLAIM_MS ago. In order: a
 * transition held by another stops the claim, so `ended` is never handed on by one while `live` is with another
 * (that one carries on with `ended` after `live`). Resolves what `by` now holds.
 */
export function claimTransitions(r: StreamRecord, by: string, now: number, thumbnailWaitMs = 0): Transition[] {
  const mine: Transition[] = []
  for (const kind of dueTransitions(r, now, thumbnailWaitMs)) {
    const claim = r.emitting?.[kind]
    if (claim && claim.session === r.session && claim.by !== by && now - claim.at < CLAIM_MS) break
    r.emitting = { ...r.emitting, [kind]: { session: r.session!, by, at: now } }
    mine.push(kind)
  }
  return mine
}

/**
 * Records that `session`'s `kind` was handed on (and lets go of its claim); nothing when the session moved on. For
 * `health`, the notices up to `seq` were.
 */
export function markEmitted(r: StreamRecord, kind: Transition, session: string, seq = Infinity): void {
  if (r.session !== session) return
  if (kind === 'health') dropHandedOn(r, session, seq)
  else r.emitted[kind] = session
  if (!r.emitting?.[kind]) return
  const rest = { ...r.emitting }
  delete rest[kind]
  if (rest.live || rest.health || rest.ended) r.emitting = rest
  else delete r.emitting
}
