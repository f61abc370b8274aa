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

/**
 * The check a write makes necessary: its time, when the write brought the next check forward from `before`, or when
 * `before` has already come. The check due then may be under way on the record as it was before this write, or done
 * (another lane's delivery, another instance's): it worked out the next check without this write, so this write
 * cannot count on it. A time already past is checked at the next whole second (one check per stream and second,
 * however many writes find `before` past).
 */
function wakeAt(
  before: number | undefined,
  r: Readonly<StreamRecord>,
  s: StreamSettings,
  now: number,
): number | undefined {
  const after = nextCheckAt(r, s)
  if (after === undefined) return undefined
  if (before !== undefined && before <= now) return after > now ? after : Math.floor(now / 1_000) * 1_000 + 1_000
  return before === undefined || after < before ? after : undefined
}

/**
 * The check a write by delivery `by` must put once it is written: the one it brought forward from `before`, else the
 * one an earlier attempt of the same delivery brought forward (that attempt's put may have failed, or its process
 * died before it: the record already shows the change, so nothing is brought forward again). Noted in the record.
 */
export function owedCheck(
  before: number | undefined,
  r: StreamRecord,
  s: StreamSettings,
  by: string,
  now: number,
): number | undefined {
  const at = wakeAt(before, r, s, now) ?? (r.wake?.by === by ? r.wake.at : undefined)
  if (at !== undefined) r.wake = { at, by }
  return at
}

/**
 * Whether delivery `by` left work on this record that only it carries on: a transition it claimed, or a check it
 * owes. A redelivery of it must write again, even when its hook would change nothing now.
 */
export function leftWork(r: Readonly<StreamRecord> | undefined, by: string): boolean {
  if (!r) return false
  const claims = [r.emitting?.live, r.emitting?.health, r.emitting?.ended]
  return r.wake?.by === by || claims.some((claim) => claim?.by === by && claim.session === r.session)
}
