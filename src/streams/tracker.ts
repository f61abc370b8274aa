/**
 * The stream tracker: a destination (`@streams`) fed from the queue with every feed hook and thumbnail, whose
 * effects are the stream lifecycle applied to the stream store. Each delivery applies its hook to the stream's
 * record with compare-and-set, then hands on the transitions it claimed in that write as `stream` events (`live`,
 * `ended`). Its own delayed work (the end of a flap window) comes back through the queue as checks, so what the
 * tracker learns is as durable as the hooks themselves, and several trackers sharing one store hand on each
 * transition once.
 * @module
 */
import type { Destination } from '../destinations/types.ts'
import type { HookEvent } from '../events/types.ts'
import type { Logger } from '../log.ts'
import type { StreamStore } from './stream-store.ts'
import { streamChanges } from './stream-changes.ts'
import { storeReport } from './store-report.ts'
import { CHECK_TYPE } from './check-event.ts'
import type { TrackerContext } from './tracker-context.ts'
import { feedMemory, trackFeed } from './feed-hooks.ts'
import { heldThumbnails, trackThumbnail } from './thumbnail-hooks.ts'
import { runCheck, scheduleDueChecks, stopRetries, type StartRetries } from './checks.ts'

export const TRACKER_NAME = '@streams'

export interface StreamTracker extends Destination {
  /** Whether an event kind is one the tracker needs to see. */
  wants(event: HookEvent): boolean
  /** Schedules a check of every stream with a transition due or a flap window open (after a restart or an upgrade). */
  start(): Promise<void>
}

interface TrackerOptions {
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
  /** A background step (ending a session, handing on a transition, writing the latest thumbnail) failed: retried. */
  onBackgroundFailure?(task: string): void
  /**
   * A bound was hit (`stream_id_too_long`, `feed_id_too_long`, `feeds_full`), or a hook's time was ahead of its
   * receipt (`future_timestamp`).
   */
  onLimit?(limit: string): void
}

export function createStreamTracker(options: TrackerOptions): StreamTracker {
  const now = options.now ?? Date.now
  const ctx: TrackerContext = {
    store: options.store,
    change: streamChanges(options.store, now),
    log: options.log,
    now,
    flapWindowMs: options.flapWindowMs,
    report: storeReport(options.log, options),
    emit: (event) => options.emit(event),
    putCheck: (check, at) => options.scheduleCheck(check, at),
  }
  const feeds = feedMemory()
  const held = heldThumbnails(ctx)
  const retries: StartRetries = { timers: new Set(), closed: false }

  return {
    name: TRACKER_NAME,
    kind: 'internal',
    concurrency: 64,
    wants: (event) =>
      (event.type === 'feeds' && (event.event === 'started' || event.event === 'ended')) ||
      (event.type === 'thumbnail' && event.streamId !== undefined),
    async deliver(event) {
      if (event.type === 'feeds') await trackFeed(ctx, feeds, event)
      else if (event.type === 'thumbnail') await trackThumbnail(ctx, held, event)
      else if (event.type === CHECK_TYPE) await runCheck(ctx, event)
    },
    start: () => scheduleDueChecks(ctx, retries),
    async close() {
      stopRetries(retries)
      await held.close()
    },
  }
}
