/**
 * Running the tracker's checks, and scheduling them at start. A check (check-event.ts) is delayed work in the queue,
 * so there are no timers for flap windows, silences or the waits for a thumbnail: it survives a restart and any
 * instance may run it. Each check puts the stream's next one (next-check.ts). A check that fails is scheduled again
 * with a backoff; one that cannot even be scheduled fails, and the queue retries it.
 * @module
 */
import { DeliveryDeferred } from '../destinations/types.ts'
import type { HookEvent } from '../events/types.ts'
import { readCheck, type Check } from './check-event.ts'
import { claimTransitions, dueTransitions, finishIfDue } from './lifecycle-rules.ts'
import { raiseQuietIfDue } from './health-rules.ts'
import { endIfSilent } from './silence-rules.ts'
import { nextCheckAt } from './next-check.ts'
import { cloneRecord } from './stream-record.ts'
import type { StreamRecord, Transition } from './stream-types.ts'
import { scheduleCheck, type TrackerContext } from './tracker-context.ts'
import { handOn } from './hand-on.ts'

/** A background step that failed is retried after 5 s, doubling up to a minute. */
const RETRY_MS = 5_000
const MAX_RETRY_MS = 60_000
const retryDelay = (attempt: number) => Math.min(MAX_RETRY_MS, RETRY_MS * 2 ** attempt)

/** Checks that could not be put at start, tried again from timers: nothing durable holds them yet. */
export interface StartRetries {
  timers: Set<ReturnType<typeof setTimeout>>
  closed: boolean
}

/** A check: does what is due (a flap window or a silence that ends the session, quiet), and hands it on. */
export async function runCheck(ctx: TrackerContext, event: HookEvent): Promise<void> {
  const check = readCheck(event)
  if (!check) return
  if (ctx.now() < check.at) throw new DeliveryDeferred("the stream's check is not due yet", check.at)
  const by = check.by ?? event.id
  try {
    await settle(ctx, check.streamId, by)
  } catch (error) {
    const delay = retryDelay(check.attempt)
    ctx.report.failed(
      'settle',
      `cannot end a stream session or hand on its transition; retrying in ${delay / 1000} s`,
      { stream: check.streamId },
      error,
    )
    // When even this fails, the check itself fails, and the queue retries it.
    await scheduleCheck(ctx, { streamId: check.streamId, at: ctx.now() + delay, by, attempt: check.attempt + 1 })
  }
}

/** Does what is due, claims the transitions due for `by`, hands them on, and puts the stream's next check. */
async function settle(ctx: TrackerContext, streamId: string, by: string): Promise<void> {
  const s = ctx.settings
  let claimed: Transition[] = []
  let own: StreamRecord | undefined
  let next: number | undefined
  const written = await ctx.change(
    streamId,
    (r) => {
      const now = ctx.now()
      const done = [
        finishIfDue(r, now, s.flapWindowMs),
        endIfSilent(r, now, s.endAfterSilenceMs),
        raiseQuietIfDue(r, now, s.health),
      ]
      claimed = claimTransitions(r, by, now, s.thumbnailWaitMs)
      next = nextCheckAt(r, s, now)
      own = claimed.length > 0 ? cloneRecord(r) : undefined
      if (!done.includes(true) && claimed.length === 0) return false
    },
    { existing: true },
  )
  if (written && own) await handOn(ctx, own, by, claimed)
  if (written && next !== undefined && next > ctx.now()) await scheduleCheck(ctx, { streamId, at: next, attempt: 0 })
}

/**
 * Schedules a check of every stream with a transition due or delayed work ahead (after a restart or an upgrade): a
 * session silent for longer than `endAfterSilence` meanwhile ends at once.
 */
export async function scheduleDueChecks(ctx: TrackerContext, retries: StartRetries): Promise<void> {
  for (const record of await ctx.store.list()) {
    const due = dueTransitions(record, ctx.now(), ctx.settings.thumbnailWaitMs).length > 0
    const next = nextCheckAt(record, ctx.settings)
    if (!due && next === undefined) continue
    const check: Check = { streamId: record.streamId, at: due ? ctx.now() : next!, attempt: 0 }
    await scheduleCheck(ctx, check).catch((error) => scheduleLater(ctx, retries, check, 0, error))
  }
}

/** A check that could not be put: tried again in the background until it is (never an unhandled rejection). */
function scheduleLater(
  ctx: TrackerContext,
  retries: StartRetries,
  check: Check,
  attempt: number,
  error: unknown,
): void {
  const delay = retryDelay(attempt)
  const message = `cannot schedule a stream check; retrying in ${delay / 1000} s`
  ctx.report.failed('settle', message, { stream: check.streamId }, error)
  if (retries.closed) return
  const timer = setTimeout(() => {
    retries.timers.delete(timer)
    scheduleCheck(ctx, check).catch((again) => scheduleLater(ctx, retries, check, attempt + 1, again))
  }, delay)
  retries.timers.add(timer)
}

export function stopRetries(retries: StartRetries): void {
  retries.closed = true
  for (const timer of retries.timers) clearTimeout(timer)
  retries.timers.clear()
}
