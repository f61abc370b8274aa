/**
 * Running the tracker's checks, and scheduling them at start. A check (check-event.ts) is delayed work in the queue,
 * so there are no timers for flap windows: it survives a restart and any instance may run it. A check that fails is
 * scheduled again with a backoff; one that cannot even be scheduled fails, and the queue retries it.
 * @module
 */
import { DeliveryDeferred } from '../destinations/types.ts'
import type { HookEvent } from '../events/types.ts'
import { readCheck, type Check } from './check-event.ts'
import { claimTransitions, dueTransitions, endsAt, finishIfDue } from './lifecycle-rules.ts'
import type { StreamRecord, Transition } from './stream-types.ts'
import { scheduleCheck, type TrackerContext } from './tracker-context.ts'
import { handOn, toHandOn } from './hand-on.ts'

/** A background step that failed is retried after 5 s, doubling up to a minute. */
const RETRY_MS = 5_000
const MAX_RETRY_MS = 60_000
const retryDelay = (attempt: number) => Math.min(MAX_RETRY_MS, RETRY_MS * 2 ** attempt)

/** Checks that could not be put at start, tried again from timers: nothing durable holds them yet. */
export interface StartRetries {
  timers: Set<ReturnType<typeof setTimeout>>
  closed: boolean
}

/** A check: ends the session when its flap window passed, and hands on what is due. */
export async function runCheck(ctx: TrackerContext, event: HookEvent): Promise<void> {
  const check = readCheck(event)
  if (!check) return
  if (ctx.now() < check.at) throw new DeliveryDeferred("the stream's flap window is still open", check.at)
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

/** Ends the session when it is due, claims what is due for `by`, and hands it on. */
async function settle(ctx: TrackerContext, streamId: string, by: string): Promise<void> {
  let claimed: Transition[] = []
  let own: StreamRecord | undefined
  const written = await ctx.change(
    streamId,
    (r) => {
      const finished = finishIfDue(r, ctx.now(), ctx.flapWindowMs)
      claimed = claimTransitions(r, by, ctx.now())
      own = toHandOn(ctx, r, claimed)
      if (!finished && claimed.length === 0) return false
    },
    { existing: true },
  )
  if (written && own) await handOn(ctx, own, by, claimed)
}

/** Schedules a check of every stream with a transition due or a flap window open (after a restart or an upgrade). */
export async function scheduleDueChecks(ctx: TrackerContext, retries: StartRetries): Promise<void> {
  for (const record of await ctx.store.list()) {
    const ends = endsAt(record, ctx.flapWindowMs)
    const due = dueTransitions(record).length > 0
    if (!due && ends === undefined) continue
    const check: Check = { streamId: record.streamId, at: due ? ctx.now() : ends!, attempt: 0 }
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
