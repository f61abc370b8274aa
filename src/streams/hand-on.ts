/**
 * Handing on after a write: the check the write made necessary is scheduled, then each transition the delivery
 * claimed in that write goes to the pipeline as `stream` events, in order, and is marked as handed on. Several
 * trackers sharing one store hand each one on once: only the claim's holder does.
 * @module
 */
import { cloneRecord } from './stream-record.ts'
import type { StreamRecord, Transition } from './stream-types.ts'
import { claimTransitions, markEmitted } from './lifecycle-rules.ts'
import { healthEvent, transitionEvent } from './transition-event.ts'
import { scheduleCheck, type TrackerContext } from './tracker-context.ts'

/**
 * The record as a change left it, when what follows the write needs it (see handOn): a copy, since later changes
 * written in the same turn go on changing the record.
 */
export function toHandOn(r: StreamRecord, claimed: Transition[], wake: number | undefined): StreamRecord | undefined {
  return claimed.length > 0 || wake !== undefined ? cloneRecord(r) : undefined
}

/**
 * With the record as this delivery's change left it: schedules the check due at `wake`, then hands on the
 * transitions `by` claimed; each mark takes on what became due meanwhile (an `ended` after the `live` this delivery
 * holds).
 */
export async function handOn(
  ctx: TrackerContext,
  record: StreamRecord,
  by: string,
  claimed: Transition[],
  wake?: number,
): Promise<void> {
  if (wake !== undefined) await scheduleCheck(ctx, { streamId: record.streamId, at: wake, attempt: 0 })
  let mine = claimed
  while (mine.length > 0) {
    const kind = mine[0]!
    const session = record.session!
    const seq = await emitTransition(ctx, record, kind)
    let next: Transition[] = []
    let after: StreamRecord | undefined
    const marked = await ctx.change(
      record.streamId,
      (r) => {
        markEmitted(r, kind, session, seq)
        next = claimTransitions(r, by, ctx.now(), ctx.settings.thumbnailWaitMs)
        after = next.length > 0 ? cloneRecord(r) : undefined
      },
      { existing: true },
    )
    if (!marked || !after) return // forgotten meanwhile, or nothing more to hand on
    record = after
    mine = next
  }
}

/** Hands `kind` of the record's session on; for `health`, every notice waiting, and resolves the last one's seq. */
async function emitTransition(ctx: TrackerContext, record: StreamRecord, kind: Transition): Promise<number> {
  if (kind !== 'health') {
    await ctx.emit(await transitionEvent(record, kind, ctx.now()))
    return Infinity
  }
  let seq = -1
  const health = record.health?.session === record.session ? record.health : undefined
  for (const notice of health?.outbox ?? []) {
    await ctx.emit(await healthEvent(record, notice, ctx.now()))
    ctx.onHealth(notice.event)
    seq = notice.seq
  }
  return seq
}
