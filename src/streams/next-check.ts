/**
 * When a stream's delayed work is next due: the end of a flap window, of the `live` event's wait for a thumbnail,
 * of a silence, or the time thumbnails have stopped for long enough to be `quiet`. One check in the queue serves
 * them all: a write that brings this time forward puts a check for it, and each check puts the next one.
 * @module
 */
import type { HealthSettings } from './health-rules.ts'
import { quietDueAt } from './health-rules.ts'
import { endsAt, liveWaitEndsAt } from './lifecycle-rules.ts'
import { silenceEndsAt } from './silence-rules.ts'
import type { StreamRecord } from './stream-types.ts'

export interface StreamSettings {
  flapWindowMs: number
  /** Unset: silence ends no session. */
  endAfterSilenceMs?: number
  /** How long `live` waits for the session's first thumbnail (0: it does not). */
  thumbnailWaitMs: number
  /** Unset: picture health is off. */
  health?: HealthSettings
}

/**
 * The next time work is due; with `after`, the next one later than that (a check that is doing what is due now
 * schedules the one after: a `live` it claimed still shows its wait as due until it is handed on).
 */
export function nextCheckAt(r: Readonly<StreamRecord>, s: StreamSettings, after = -Infinity): number | undefined {
  const times = (
    r.status === 'ending'
      ? [endsAt(r, s.flapWindowMs)]
      : [silenceEndsAt(r, s.endAfterSilenceMs), liveWaitEndsAt(r, s.thumbnailWaitMs), quietDueAt(r, s.health)]
  ).filter((at): at is number => at !== undefined && at > after)
  return times.length > 0 ? Math.min(...times) : undefined
}

/** The check a write makes necessary: its time, when the write brought the next check forward from `before`. */
export function wakeAt(before: number | undefined, r: Readonly<StreamRecord>, s: StreamSettings): number | undefined {
  const after = nextCheckAt(r, s)
  return after !== undefined && (before === undefined || after < before) ? after : undefined
}
