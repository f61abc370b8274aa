/**
 * Handing on transitions after a write: the check that ends an ending session is scheduled, then each transition
 * the delivery claimed in that write goes to the pipeline as a `stream` event, in order, and is marked as handed
 * on. Several trackers sharing one store hand each transition on once: only the claim's holder does.
 * @module
 */
import { cloneRecord } from './stream-record.ts'
import type { StreamRecord, Transition } from './stream-types.ts'
import { claimTransitions, endsAt, markEmitted } from './lifecycle-rules.ts'
import { transitionEvent } from './transition-event.ts'
import { scheduleCheck, type TrackerContext } from './tracker-context.ts'

/**
 * The record as a change left it, when what follows the write needs it (see handOn): a copy, since later changes
 * written in the same turn go on changing the record.
 */
export function toHandOn(ctx: TrackerContext, r: StreamRecord, claimed: Transition[]): StreamRecord | undefined {
  return claimed.length > 0 || endsAt(r, ctx.flapWindowMs) !== undefined ? cloneRecord(r) : undefined
}

/**
 * With the record as this delivery's change left it: schedules the check that ends an ending session, then hands
 * on the transitions `by` claimed; each mark takes on what became due meanwhile (an `ended` after the `live` this
 * delivery holds).
 */
export async function handOn(
  ctx: TrackerContext,
  record: StreamRecord,
  by: string,
  claimed: Transition[],
): Promise<void> {
  const ends = endsAt(record, ctx.flapWindowMs)
  if (ends !== undefined) await scheduleCheck(ctx, { streamId: record.streamId, at: ends, attempt: 0 })
  let mine = claimed
  while (mine.length > 0) {
    const kind = mine[0]!
    const session = record.session!
    await ctx.emit(await transitionEvent(record, kind, ctx.now()))
    let next: Transition[] = []
    let after: StreamRecord | undefined
    const marked = await ctx.change(
      record.streamId,
      (r) => {
        markEmitted(r, kind, session)
        next = claimTransitions(r, by, ctx.now())
        after = next.length > 0 ? cloneRecord(r) : undefined
      },
      { existing: true },
    )
    if (!marked || !after) return // forgotten meanwhile, or nothing more to hand on
    record = after
    mine = next
  }
}
