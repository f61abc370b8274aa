/**
 * The stream tracker: a destination (`@streams`) fed from the queue with every platform hook of a stream, whose
 * effects are the stream lifecycle and picture health applied to the stream store. Each delivery applies its hook
 * to the stream's record with compare-and-set, then hands on what it claimed in that write as `stream` events
 * (`live`, the health events, `ended`). Its own delayed work (flap windows, silences, the wait for a first
 * thumbnail, quiet) comes back through the queue as checks, so what the tracker learns is as durable as the hooks
 * themselves, and several trackers sharing one store hand on each event once.
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
import { isSignOfLife, trackHeard } from './heard-hooks.ts'
import { pictureLooks, type AnalysisOutcome } from './picture-looks.ts'
import type { HealthSettings } from './health-rules.ts'
import type { HealthEventName } from './stream-types.ts'
import { HOOKCAST_SOURCE } from './transition-event.ts'
import { createPictureAnalyser, type PictureAnalysis } from '../health/picture.ts'

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
  /** A live session with no hook of any kind for this long ends (unset: never). */
  endAfterSilenceMs?: number
  /** How long `live` waits for the session's first thumbnail (default 0: it does not wait). */
  thumbnailWaitMs?: number
  /** Picture health from thumbnails (unset: off). */
  health?: HealthSettings
  /** Measures a thumbnail (default: src/health/picture.ts with sharp); tests replace it. */
  analyse?(jpeg: Uint8Array): Promise<PictureAnalysis>
  /** Hands a stream event to the pipeline (route, queue); resolves once it is accepted. */
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
  /** A health event was handed on (`black`, `frozen`, `quiet`, `recovered`). */
  onHealth?(event: HealthEventName): void
  /** A thumbnail of a live session was looked at, or why not. */
  onAnalysis?(outcome: AnalysisOutcome): void
}

export function createStreamTracker(options: TrackerOptions): StreamTracker {
  const ctx = trackerContext(options)
  const feeds = feedMemory()
  const held = heldThumbnails(ctx)
  const retries: StartRetries = { timers: new Set(), closed: false }
  const silenceMs = options.endAfterSilenceMs

  return {
    name: TRACKER_NAME,
    kind: 'internal',
    concurrency: 64,
    wants: (event) =>
      (event.type === 'feeds' && (event.event === 'started' || event.event === 'ended')) ||
      (event.type === 'thumbnail' && event.streamId !== undefined) ||
      (silenceMs !== undefined && event.source !== HOOKCAST_SOURCE && event.type !== 'feeds' && isSignOfLife(event)),
    async deliver(event) {
      if (event.type === 'feeds') await trackFeed(ctx, feeds, event)
      else if (event.type === 'thumbnail') await trackThumbnail(ctx, held, event)
      else if (event.type === CHECK_TYPE) await runCheck(ctx, event)
      else if (event.source !== HOOKCAST_SOURCE) await trackHeard(ctx, event)
    },
    start: () => scheduleDueChecks(ctx, retries),
    async close() {
      stopRetries(retries)
      await held.close()
    },
  }
}

function trackerContext(options: TrackerOptions): TrackerContext {
  const now = options.now ?? Date.now
  const count =
    <T>(callback: ((what: T) => void) | undefined) =>
    (what: T) => {
      try {
        callback?.(what)
      } catch {
        // a metrics callback must not fail a delivery
      }
    }
  const analyse = options.analyse ?? createPictureAnalyser({ logger: options.log })
  return {
    store: options.store,
    change: streamChanges(options.store, now),
    log: options.log,
    now,
    settings: {
      flapWindowMs: options.flapWindowMs,
      thumbnailWaitMs: options.thumbnailWaitMs ?? 0,
      ...(options.endAfterSilenceMs !== undefined ? { endAfterSilenceMs: options.endAfterSilenceMs } : {}),
      ...(options.health ? { health: options.health } : {}),
    },
    report: storeReport(options.log, options),
    ...(options.health ? { looks: pictureLooks({ analyse, log: options.log, count: count(options.onAnalysis) }) } : {}),
    onHealth: count(options.onHealth),
    emit: (event) => options.emit(event),
    putCheck: (check, at) => options.scheduleCheck(check, at),
  }
}

/** The tracker's settings from the config's `streams` section. */
export function trackerSettings(streams: {
  endAfterSilence: number | false
  thumbnailWait: number
  health: HealthSettings | false
}): Pick<TrackerOptions, 'endAfterSilenceMs' | 'thumbnailWaitMs' | 'health'> {
  return {
    ...(streams.endAfterSilence !== false ? { endAfterSilenceMs: streams.endAfterSilence } : {}),
    thumbnailWaitMs: streams.thumbnailWait,
    ...(streams.health ? { health: streams.health } : {}),
  }
}
