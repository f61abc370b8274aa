/**
 * The stream tracker: a destination (`@streams`) fed from the queue with every feed hook and thumbnail, whose
 * effects are the lifecycle of lifecycle.ts applied to the stream store. Each delivery applies its hook to the
 * stream's record, written back with compare-and-set (again until no other writer came in between; deliveries of
 * one stream that wait for a write under way share the next: stream-changes.ts), then hands on the transitions it
 * claimed in that write as `stream` events (`live`, `ended`) and stores thumbnails.
 *
 * There are no timers for flap windows: when a session is ending, the tracker schedules a check (check-event.ts),
 * delayed work in the queue that survives a restart and that any instance may pick up. What the tracker learns is
 * as durable as the hooks themselves; several trackers sharing one store hand on each transition once.
 * @module
 */
import { DeliveryDeferred, type Destination } from '../destinations/types.ts'
import type { HookEvent } from '../events/types.ts'
import type { Logger } from '../log.ts'
import { readRecord, type StreamStore, type VersionedRecord } from './stream-store.ts'
import { streamChanges, type ChangeOptions, type StreamChange } from './stream-changes.ts'
import { cloneRecord } from './stream-record.ts'
import { transitionEvent } from './transition-event.ts'
import {
  STREAM_LIMITS,
  StreamLimitError,
  type StreamRecord,
  type ThumbnailRef,
  type Transition,
} from './stream-types.ts'
import {
  applyFeed,
  boundedTime,
  claimTransitions,
  dueTransitions,
  endsAt,
  feedSlotsAllActive,
  feedTime,
  finishIfDue,
  isFirstOfSession,
  markEmitted,
  namesOf,
  roomForFeed,
  takeThumbnail,
} from './lifecycle-rules.ts'
import { CHECK_TYPE, checkEvent, readCheck, type Check } from './check-event.ts'
import { latestThumbnails } from './latest-thumbnails.ts'
import { eventMeta } from '../queue/loaded-event.ts'

export const TRACKER_NAME = '@streams'

/** A background step that failed is retried after 5 s, doubling up to a minute. */
const RETRY_MS = 5_000
/** A stream that is not live keeps its newest thumbnail durably at most this often (see onThumbnail). */
const DURABLE_CANDIDATE_MS = 1_000
const MAX_RETRY_MS = 60_000
const retryDelay = (attempt: number) => Math.min(MAX_RETRY_MS, RETRY_MS * 2 ** attempt)

export interface StreamTracker extends Destination {
  /** Whether an event kind is one the tracker needs to see. */
  wants(event: HookEvent): boolean
  /** Schedules a check of every stream with a transition due or a flap window open (after a restart, or an older version). */
  start(): Promise<void>
}

export interface TrackerOptions {
  store: StreamStore
  flapWindowMs: number
  /** Hands a lifecycle event to the pipeline (route, queue); resolves once it is accepted. */
  emit(event: HookEvent): Promise<void>
  /**
   * Puts `check` (a `hookcast.check` event for the tracker alone) to be delivered to the tracker at `at` or later,
   * durably: `queue.put(check, [TRACKER_NAME], { notBefore: at })`. A check delivered early is deferred
   * (DeliveryDeferred), so a queue that cannot delay may deliver it at once.
   */
  scheduleCheck(check: HookEvent, at: number): Promise<void>
  log: Logger
  now?: () => number
  /** A background step (ending a session, emitting a transition, writing the latest thumbnail) failed; it is retried. */
  onBackgroundFailure?(task: string): void
  /** A bound was hit or a value was bounded (`stream_id_too_long`, `feed_id_too_long`, `feeds_full`, `future_timestamp`). */
  onLimit?(limit: string): void
}

export function createStreamTracker(options: TrackerOptions): StreamTracker {
  const { store, log, flapWindowMs } = options
  const now = options.now ?? Date.now
  /** Retries of checks that could not be scheduled at start (nothing durable holds them yet). */
  const retryTimers = new Set<ReturnType<typeof setTimeout>>()
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
  // A stream past its feed bound says so in the log once a minute, not at every hook (the count says how often).
  const fullSince = new Map<string, number>()
  const warnFull = (streamId: string, feedId: string) => {
    if (now() - (fullSince.get(streamId) ?? -Infinity) < 60_000) return
    if (fullSince.size > 1_000) fullSince.clear()
    fullSince.set(streamId, now())
    log.warn('stream has too many active feeds; new ones are not tracked', {
      stream: streamId,
      feed: feedId.slice(0, 100),
    })
  }
  // feedSlotsAllActive of stored records (a stream store with `peek` replaces a record, never changes it), so a
  // flood of new feeds for a stream with hundreds of them is not a walk through its feeds per hook.
  const allActive = new WeakMap<Readonly<StreamRecord>, boolean>()
  const slotsAllActive = (r: Readonly<StreamRecord>) => {
    let known = allActive.get(r)
    if (known === undefined) allActive.set(r, (known = feedSlotsAllActive(r)))
    return known
  }
  // One write of a stream at a time in this process, holding every change that waited for it (stream-changes.ts).
  const change = streamChanges(store, now)
  const latest = latestThumbnails({
    failed: (message, fields, error) => failed('latest-thumbnail', message, fields, error),
    async write(ref, body) {
      if (!(await store.putThumbnail(ref, body))) return
      await tracked(ref.event.streamId!, (r) => takeThumbnail(r, ref, ref.event), { lazy: true })
    },
  })

  /** Runs a change that may create the record; a refusal (limits) means the stream is not tracked. */
  async function tracked(
    streamId: string,
    apply: StreamChange,
    extra?: ChangeOptions,
  ): Promise<VersionedRecord | undefined> {
    try {
      return await change(streamId, apply, extra)
    } catch (error) {
      if (!(error instanceof StreamLimitError)) throw error
      log.warn('stream not tracked', { stream: streamId.slice(0, 100), reason: error.message })
      return undefined
    }
  }

  const schedule = async (check: Check) => options.scheduleCheck(await checkEvent(check, now()), check.at)

  /** A check that could not be put at start: tried again in the background until it is (never an unhandled rejection). */
  function scheduleLater(check: Check, attempt: number, error: unknown): void {
    const delay = retryDelay(attempt)
    failed('settle', `cannot schedule a stream check; retrying in ${delay / 1000} s`, { stream: check.streamId }, error)
    if (closed) return
    const timer = setTimeout(() => {
      retryTimers.delete(timer)
      schedule(check).catch((again) => scheduleLater(check, attempt + 1, again))
    }, delay)
    retryTimers.add(timer)
  }

  /**
   * The record as a change left it, when what follows the write needs it (see follow): a copy, since later changes
   * written in the same turn go on changing the record.
   */
  const toFollow = (r: StreamRecord, claimed: Transition[]) =>
    claimed.length > 0 || endsAt(r, flapWindowMs) !== undefined ? cloneRecord(r) : undefined

  /**
   * After a write, with the record as this delivery's change left it: schedules the check that ends an ending
   * session, then hands on the transitions `by` claimed, in order, each marked as handed on once it is; each mark
   * takes on what became due meanwhile (an `ended` after the `live` this delivery holds).
   */
  async function follow(record: StreamRecord, by: string, claimed: Transition[]): Promise<void> {
    const ends = endsAt(record, flapWindowMs)
    if (ends !== undefined) await schedule({ streamId: record.streamId, at: ends, attempt: 0 })
    let mine = claimed
    while (mine.length > 0) {
      const kind = mine[0]!
      const session = record.session!
      await options.emit(await transitionEvent(record, kind, now()))
      let next: Transition[] = []
      let after: StreamRecord | undefined
      const marked = await change(
        record.streamId,
        (r) => {
          markEmitted(r, kind, session)
          next = claimTransitions(r, by, now())
          after = next.length > 0 ? cloneRecord(r) : undefined
        },
        { existing: true },
      )
      if (!marked || !after) return // forgotten meanwhile, or nothing more to hand on
      record = after
      mine = next
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
      log.warn('feed hook with a feed id too long to be one; not tracked', {
        id: event.id,
        stream: streamId,
        length: feedId.length,
      })
      return
    }
    const { stated, at } = feedTime(event)
    if (at !== stated) {
      limit('future_timestamp')
      log.warn('feed hook time is ahead of its receipt; taken as received', {
        id: event.id,
        stream: streamId,
        stated,
        receivedAt: event.receivedAt,
      })
    }
    const names = namesOf(event)
    const renames = (r: Readonly<StreamRecord>) =>
      (names.accountId !== undefined && r.accountId !== names.accountId) ||
      (names.streamName !== undefined && r.streamName !== names.streamName)
    let full = false
    let claimed: Transition[] = []
    let own: StreamRecord | undefined
    const written = await tracked(
      streamId,
      (r) => {
        const renamed = renames(r)
        if (names.accountId) r.accountId = names.accountId
        if (names.streamName) r.streamName = names.streamName
        full = !roomForFeed(r, feedId)
        if (!full) applyFeed(r, feedId, event.event, at, now())
        claimed = claimTransitions(r, event.id, now())
        own = toFollow(r, claimed)
        if (full && !renamed && claimed.length === 0) return false // nothing changed: no write
      },
      {
        // The same outcome read off the stored record, without a copy: a new feed with no slot left, nothing else due.
        unchangedOn: (r) => {
          if (Object.hasOwn(r.feeds, feedId) || renames(r) || dueTransitions(r).length > 0 || !slotsAllActive(r))
            return false
          full = true
          return true
        },
      },
    )
    if (full) {
      limit('feeds_full')
      warnFull(streamId, feedId)
    }
    if (written && own) await follow(own, event.id, claimed)
  }

  async function onThumbnail(event: HookEvent): Promise<void> {
    const streamId = event.streamId!
    if (streamId.length > STREAM_LIMITS.streamIdLength) {
      limit('stream_id_too_long')
      return
    }
    const { body } = event
    const meta = eventMeta(event)
    const timestamp = boundedTime(event.timestamp, event.receivedAt)
    if (timestamp !== event.timestamp) {
      limit('future_timestamp')
      log.warn('thumbnail time is ahead of its receipt; taken as received', {
        id: event.id,
        stream: streamId,
        stated: event.timestamp,
        receivedAt: event.receivedAt,
      })
    }
    const ref: ThumbnailRef = {
      eventId: event.id,
      timestamp,
      ...(event.feedId ? { feedId: event.feedId } : {}),
      event: meta,
    }
    const current = (await readRecord(store, streamId))?.record
    const newest = Math.max(
      current?.latestThumbnail?.timestamp ?? -Infinity,
      latest.pendingTimestamp(streamId) ?? -Infinity,
    )
    const isFirst = isFirstOfSession(current, ref)
    if (ref.timestamp < newest && !isFirst) return
    if (current && !Object.hasOwn(current.feeds, event.feedId ?? '')) {
      // The metadata headers are not signed: a feed id we never heard of is worth a line in the log.
      log.debug('thumbnail for a feed not seen in feed hooks', { stream: streamId, feed: event.feedId })
    }
    // The latest one changes every 30 s and a crash may lose it; a session's first must survive a crash (it is in
    // the live alert). Which one is the first is settled in the write, against the record as it is then.
    // Before the session's `started` is known (no session live), this one may become its first: kept durably too,
    // unless the one kept is less than a second older (the platform sends one per 30 s; a flood of them for a stream
    // that is not live would otherwise cost two writes each, and a crash loses at most that second).
    const mayBecomeFirst = !current || current.status === 'ended'
    const keptIsRecent =
      current?.latestThumbnail !== undefined && ref.timestamp - current.latestThumbnail.timestamp < DURABLE_CANDIDATE_MS
    if (!isFirst && (!mayBecomeFirst || keptIsRecent)) return latest.hold(streamId, ref, body)
    if (!(await store.putThumbnail(ref, body))) return
    await tracked(streamId, (r) => takeThumbnail(r, ref, event))
  }

  /** A check: ends the session when its flap window passed, and hands on what is due. A failure is retried by a later check. */
  async function onCheck(event: HookEvent): Promise<void> {
    const check = readCheck(event)
    if (!check) return
    if (now() < check.at) throw new DeliveryDeferred("the stream's flap window is still open", check.at)
    const by = check.by ?? event.id
    try {
      let claimed: Transition[] = []
      let own: StreamRecord | undefined
      const written = await change(
        check.streamId,
        (r) => {
          const finished = finishIfDue(r, now(), flapWindowMs)
          claimed = claimTransitions(r, by, now())
          own = toFollow(r, claimed)
          if (!finished && claimed.length === 0) return false
        },
        { existing: true },
      )
      if (written && own) await follow(own, by, claimed)
    } catch (error) {
      const delay = retryDelay(check.attempt)
      failed(
        'settle',
        `cannot end a stream session or hand on its transition; retrying in ${delay / 1000} s`,
        { stream: check.streamId },
        error,
      )
      // When even this fails, the check itself fails, and the queue retries it.
      await schedule({ streamId: check.streamId, at: now() + delay, by, attempt: check.attempt + 1 })
    }
  }

  return {
    name: TRACKER_NAME,
    kind: 'internal',
    concurrency: 64,
    wants: (event) =>
      (event.type === 'feeds' && (event.event === 'started' || event.event === 'ended')) ||
      (event.type === 'thumbnail' && event.streamId !== undefined),
    async deliver(event) {
      if (event.type === 'feeds') await onFeed(event)
      else if (event.type === 'thumbnail') await onThumbnail(event)
      else if (event.type === CHECK_TYPE) await onCheck(event)
    },
    async start() {
      for (const record of await store.list()) {
        const ends = endsAt(record, flapWindowMs)
        const due = dueTransitions(record).length > 0
        if (!due && ends === undefined) continue
        const check: Check = { streamId: record.streamId, at: due ? now() : ends!, attempt: 0 }
        await schedule(check).catch((error) => scheduleLater(check, 0, error))
      }
    },
    async close() {
      closed = true
      for (const timer of retryTimers) clearTimeout(timer)
      retryTimers.clear()
      await latest.close()
    },
  }
}
