/**
 * A feed hook (`started`, `ended`) applied to its stream's record: ids and time checked against the bounds, the
 * feed applied, and the transitions it made due claimed in the same write, then handed on. Hooks of one stream
 * arrive in any order and in floods; a hook that can change nothing costs no write.
 * @module
 */
import type { HookEvent } from '../events/types.ts'
import { STREAM_LIMITS, type StreamRecord, type Transition } from './stream-types.ts'
import {
  applyFeed,
  claimTransitions,
  dueTransitions,
  feedSlotsAllActive,
  feedTime,
  namesOf,
  roomForFeed,
} from './lifecycle-rules.ts'
import { changeOrCreate, type TrackerContext } from './tracker-context.ts'
import { handOn, toHandOn } from './hand-on.ts'
import { nextCheckAt, owedCheck } from './next-check.ts'
import { noteHeard } from './silence-rules.ts'

/** What the feed steps remember between hooks, so that a flood of them stays cheap. */
interface FeedMemory {
  /** When a stream past its feed bound was last logged: once a minute, not at every hook (the count says how often). */
  fullSince: Map<string, number>
  /**
   * feedSlotsAllActive of stored records (a stream store with `peek` replaces a record, never changes it), so a
   * flood of new feeds for a stream with hundreds of them is not a walk through its feeds per hook.
   */
  allActive: WeakMap<Readonly<StreamRecord>, boolean>
}

export const feedMemory = (): FeedMemory => ({ fullSince: new Map(), allActive: new WeakMap() })

/** What a feed hook's change did. */
interface FeedOutcome {
  written: boolean
  /** The stream had no slot left for a new feed. */
  full: boolean
  /** The transitions this hook's delivery claimed, and the record as its change left it (see toHandOn). */
  claimed: Transition[]
  own: StreamRecord | undefined
  /** The check this hook made necessary (a session began, a flap window opened). */
  wake: number | undefined
}

export async function trackFeed(ctx: TrackerContext, memory: FeedMemory, event: HookEvent): Promise<void> {
  const { feedId, streamId } = event
  if (!feedId || !streamId || !idsFit(ctx, event, streamId, feedId)) return
  const at = boundedFeedTime(ctx, event, streamId)
  const outcome = await applyFeedHook(ctx, memory, event, streamId, feedId, at)
  if (outcome.full) {
    ctx.report.limit('feeds_full')
    warnFull(ctx, memory, streamId, feedId)
  }
  if (outcome.written && outcome.own) await handOn(ctx, outcome.own, event.id, outcome.claimed, outcome.wake)
}

/** Ids too long to be the platform's are not tracked (counted and logged). */
function idsFit(ctx: TrackerContext, event: HookEvent, streamId: string, feedId: string): boolean {
  if (streamId.length > STREAM_LIMITS.streamIdLength) {
    ctx.report.limit('stream_id_too_long')
    ctx.log.warn('feed hook with a stream id too long to be one; not tracked', {
      id: event.id,
      length: streamId.length,
    })
    return false
  }
  if (feedId.length > STREAM_LIMITS.feedIdLength) {
    ctx.report.limit('feed_id_too_long')
    ctx.log.warn('feed hook with a feed id too long to be one; not tracked', {
      id: event.id,
      stream: streamId,
      length: feedId.length,
    })
    return false
  }
  return true
}

/** The hook's time, bounded by its receipt (a time ahead of it is counted and logged). */
function boundedFeedTime(ctx: TrackerContext, event: HookEvent, streamId: string): number {
  const { stated, at } = feedTime(event)
  if (at !== stated) {
    ctx.report.limit('future_timestamp')
    ctx.log.warn('feed hook time is ahead of its receipt; taken as received', {
      id: event.id,
      stream: streamId,
      stated,
      receivedAt: event.receivedAt,
    })
  }
  return at
}

/**
 * One change of the record: the names the hook carries, the feed (when there is a slot for it), its receipt, and the
 * transitions it made due, claimed for this delivery. No write when nothing changed.
 */
async function applyFeedHook(
  ctx: TrackerContext,
  memory: FeedMemory,
  event: HookEvent,
  streamId: string,
  feedId: string,
  at: number,
): Promise<FeedOutcome> {
  const names = namesOf(event)
  const renames = (r: Readonly<StreamRecord>) =>
    (names.accountId !== undefined && r.accountId !== names.accountId) ||
    (names.streamName !== undefined && r.streamName !== names.streamName)
  const outcome: FeedOutcome = { written: false, full: false, claimed: [], own: undefined, wake: undefined }
  const { settings } = ctx
  const written = await changeOrCreate(
    ctx,
    streamId,
    (r) => {
      const before = nextCheckAt(r, settings)
      const renamed = renames(r)
      if (names.accountId) r.accountId = names.accountId
      if (names.streamName) r.streamName = names.streamName
      outcome.full = !roomForFeed(r, feedId)
      if (!outcome.full) applyFeed(r, feedId, event.event, at, ctx.now())
      if (!outcome.full && r.status !== 'ended') noteHeard(r, event.receivedAt)
      outcome.claimed = claimTransitions(r, event.id, ctx.now(), settings.thumbnailWaitMs)
      outcome.wake = owedCheck(before, r, settings, event.id, ctx.now())
      outcome.own = toHandOn(r, outcome.claimed, outcome.wake)
      if (outcome.full && !renamed && !outcome.own) return false // nothing changed: no write
    },
    {
      // The same outcome read off the stored record, without a copy: a new feed with no slot left, nothing else due.
      unchangedOn: (r) => {
        const due = dueTransitions(r, ctx.now(), settings.thumbnailWaitMs).length > 0
        if (Object.hasOwn(r.feeds, feedId) || renames(r) || due || !slotsAllActive(memory, r)) return false
        outcome.full = true
        return true
      },
    },
  )
  outcome.written = written !== undefined
  return outcome
}

function slotsAllActive(memory: FeedMemory, r: Readonly<StreamRecord>): boolean {
  let known = memory.allActive.get(r)
  if (known === undefined) memory.allActive.set(r, (known = feedSlotsAllActive(r)))
  return known
}

function warnFull(ctx: TrackerContext, memory: FeedMemory, streamId: string, feedId: string): void {
  const { fullSince } = memory
  if (ctx.now() - (fullSince.get(streamId) ?? -Infinity) < 60_000) return
  if (fullSince.size > 1_000) fullSince.clear()
  fullSince.set(streamId, ctx.now())
  ctx.log.warn('stream has too many active feeds; new ones are not tracked', {
    stream: streamId,
    feed: feedId.slice(0, 100),
  })
}
