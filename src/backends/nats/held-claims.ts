/**
 * What this instance does with a claim it holds: load its event, extend its lease, and end it (ack, retry, dead).
 * A retry publishes the delivery again with its new state and acks the old message (a stored message cannot
 * change), a dead delivery keeps a copy of the body in the dead-letter JetStream stream, and an event's copy is
 * removed by whoever ends its last delivery.
 * @module
 */
import { LeaseLostError, type Attempt, type Claim, type Queue } from '../../queue/types.ts'
import type { HookEvent } from '../../events/types.ts'
import type { NatsContext } from './queue-context.ts'
import type { Held, Leases } from './leases.ts'
import { ACK, WORKING, confirmAck, nakAfter } from './pull.ts'
import { encodeDelivery, eventHeaders, readEventMeta } from './messages.ts'
import { loadedEvent, type EventMeta } from '../../queue/loaded-event.ts'
import { isNotFound } from './jetstream-setup.ts'
import { eventCopies, type EventCopies } from './event-copies.ts'
import { sleep } from '../../util/sleep.ts'
import { errorText } from '../../util/error-text.ts'
import type { DedupWindow } from '../../queue/dedup.ts'
import { messageExists } from './message-exists.ts'
import { isWrongRevision } from './kv-buckets.ts'
import { bodyOf, needsChunks, purgeChunks, readChunkRef, setChunkRef, writeChunks } from './chunks.ts'

type HeldClaims = Pick<Queue, 'load' | 'extend' | 'ack' | 'retry' | 'dead'>

/**
 * What the steps below share: the queue's context, the claims this instance holds, where event copies are read, and
 * the ids of completed puts (undefined: no dedup window, so no repeat put ever reuses a copy).
 */
interface HeldContext extends NatsContext {
  leases: Leases
  copies: EventCopies
  completed: DedupWindow | undefined
}

export function natsHeldClaims(ctx: NatsContext, leases: Leases, completed?: DedupWindow): HeldClaims {
  const parts: HeldContext = { ...ctx, leases, copies: eventCopies(ctx), completed }
  return {
    load: (claim) => load(parts, claim),
    extend: (claim, leaseMs) => extend(parts, claim, leaseMs),
    ack: (claim) => ack(parts, claim),
    retry: (claim, at, attempt) => retry(parts, claim, at, attempt),
    dead: (claim, attempts) => dead(parts, claim, attempts),
  }
}

async function load(ctx: HeldContext, claim: Claim): Promise<HookEvent> {
  const held = ctx.leases.get(claim)
  const found = await eventOf(ctx, held)
  if (!found) {
    // Our delivery message gone too: the server gave it to another instance (it thought this one gone: NATS
    // restarted, or this one stalled past the ack wait), which made the delivery and removed the copy after it.
    if (!(await stillQueued(ctx, held))) {
      ctx.leases.end(held)
      throw new LeaseLostError(`claim of ${claim.eventId} for ${claim.destination} was made by another instance`)
    }
    // A copy goes only once its put completed (dropEventIfDone): this is a delivery published again after
    // nats-server forgot its id (a restart), or, with no dedup window, a put's repeat after the copy went.
    ctx.log.error('a delivery whose event is gone from NATS; dropped', {
      id: claim.eventId,
      destination: claim.destination,
      seq: held.record.eventSeq,
    })
    await confirmAck(ctx.nc, held.message.reply, ACK, ctx.requestTimeoutMs)
    ctx.leases.end(held)
    throw new Error(
      `event ${claim.eventId} is not in ${ctx.names.jetStreams.events} any more; ` +
        `its delivery to ${claim.destination} was dropped`,
    )
  }
  return loadedEvent(found.meta, found.body)
}

/** Whether the claim's delivery message is still in the deliveries stream (a message acked by anyone is not). */
function stillQueued(ctx: HeldContext, held: Held): Promise<boolean> {
  return messageExists(ctx, ctx.names.jetStreams.deliveries, { seq: held.message.streamSeq })
}

async function extend(ctx: HeldContext, claim: Claim, leaseMs: number): Promise<void> {
  const held = ctx.leases.get(claim)
  const sentAt = ctx.now()
  await confirmAck(ctx.nc, held.message.reply, WORKING, ctx.requestTimeoutMs)
  if (!ctx.leases.holds(held))
    throw new LeaseLostError(`claim of ${claim.eventId} for ${claim.destination} is not held any more`)
  claim.leaseUntil = ctx.leases.extend(held, leaseMs, sentAt)
}

async function ack(ctx: HeldContext, claim: Claim): Promise<void> {
  const held = ctx.leases.get(claim)
  await confirmAck(ctx.nc, held.message.reply, ACK, ctx.requestTimeoutMs)
  ctx.leases.end(held)
  await dropEventIfDone(ctx, held)
}

async function retry(ctx: HeldContext, claim: Claim, at: number, attempt: Attempt | undefined): Promise<void> {
  const { nc, js, names, requestTimeoutMs, leases } = ctx
  const held = leases.get(claim)
  if (!attempt && at <= ctx.now()) {
    // Nothing to record: given back where it is.
    await confirmAck(nc, held.message.reply, nakAfter(0), requestTimeoutMs)
    leases.end(held)
    return
  }
  const record = {
    ...held.record,
    attempts: attempt ? [...held.record.attempts, attempt] : held.record.attempts,
    nextAt: at,
  }
  try {
    await js.publish(names.delivery(record.destination, record.eventSeq), encodeDelivery(record), {
      // The same id if this retry is recorded again (its ack failed): the second copy is dropped.
      msgID: `retry:${held.message.streamSeq}`,
      // Published only while the claim's message is its delivery's last: not after a late holder's attempt, once
      // another instance made the delivery (its ack removed the message, and the event's copy may be gone too).
      expect: { lastSubjectSequence: held.message.streamSeq },
      timeout: requestTimeoutMs,
    })
  } catch (error) {
    if (!isWrongRevision(error)) throw error
    if (!(await stillQueued(ctx, held))) {
      leases.end(held)
      throw new LeaseLostError(`claim of ${claim.eventId} for ${claim.destination} was made by another instance`)
    }
    // Still queued, with another message of the same delivery after it (a put's repeat after nats-server forgot
    // its id): that one carries the delivery on, and this one is acked.
  }
  await confirmAck(nc, held.message.reply, ACK, requestTimeoutMs)
  leases.end(held)
}

async function dead(ctx: HeldContext, claim: Claim, attempts: Attempt[]): Promise<void> {
  const { nc, js, names, requestTimeoutMs, leases } = ctx
  const held = leases.get(claim)
  const found = await eventOf(ctx, held)
  if (found) {
    const subject = names.dead(claim.destination, claim.eventId)
    const headers = eventHeaders(found.meta, { dead: { destination: claim.destination, deadAt: ctx.now(), attempts } })
    const chunks = needsChunks(ctx, found.body)
      ? await writeChunks(ctx, found.body, subject, requestTimeoutMs)
      : undefined
    if (chunks) setChunkRef(headers, chunks)
    const stored = await js.publish(subject, chunks ? new Uint8Array(0) : found.body, {
      headers,
      msgID: `dead:${held.message.streamSeq}`,
      timeout: requestTimeoutMs,
    })
    if (chunks && stored.duplicate) await purgeChunks(ctx, chunks.subject)
  } else {
    ctx.log.error('a dead delivery whose event is gone from NATS; no dead letter kept', {
      id: claim.eventId,
      destination: claim.destination,
    })
  }
  await confirmAck(nc, held.message.reply, ACK, requestTimeoutMs)
  leases.end(held)
  await dropEventIfDone(ctx, held)
}

async function eventOf(ctx: HeldContext, held: Held): Promise<{ meta: EventMeta; body: Uint8Array } | undefined> {
  const stored = await ctx.copies.read(held.record.eventSeq)
  const meta = stored ? readEventMeta(stored.header) : undefined
  if (!stored || !meta) return undefined
  const chunks = readChunkRef(stored.header)
  if (chunks) held.chunks = chunks.subject
  return { meta, body: await bodyOf(ctx, stored.header, stored.data) }
}

/**
 * After a delivery ended: removes its event's copy when no other destination of that copy has a delivery left. Of two
 * deliveries ending at once, the later to look sees both gone (each looks only once its own is gone).
 *
 * "No delivery left" is also what a put looks like before it stored all its deliveries: one still publishing them, or
 * one cut off by a crash whose repeat (the same hook sent again, a transition emitted again) publishes the missing
 * ones for this same copy. Removing the copy then loses those deliveries, so with other destinations the copy goes
 * only once its put is known complete; otherwise the orphan sweep removes it after the dedup window.
 */
async function dropEventIfDone(ctx: HeldContext, held: Held, tries = 1): Promise<void> {
  const { record } = held
  try {
    const others = record.group.filter((destination) => destination !== record.destination)
    if (others.length > 0 && !(await othersDone(ctx, held, others))) return
    await ctx.jsm.streams.deleteMessage(ctx.names.jetStreams.events, record.eventSeq, false).catch((error: unknown) => {
      if (!isNotFound(error)) throw error
    })
    if (held.chunks) await purgeChunks(ctx, held.chunks)
  } catch (error) {
    if (tries < REMOVAL_TRIES) {
      // NATS busy or just back: a few more tries in the background, then the sweep.
      const timer = setTimeout(() => void dropEventIfDone(ctx, held, tries + 1), 2_000 * tries)
      ;(timer as { unref?: () => void }).unref?.()
      return
    }
    ctx.log.warn('cannot remove a finished event from NATS; it stays in the events stream for the sweep', {
      id: record.eventId,
      seq: record.eventSeq,
      error: errorText(error),
    })
  }
}

/** Tries at removing a finished event's copy before it is left to the orphan sweep. */
const REMOVAL_TRIES = 3

/** Whether the other destinations' deliveries of the copy are all made (none left, and the put stored them all). */
async function othersDone(ctx: HeldContext, held: Held, others: string[]): Promise<boolean> {
  const { names } = ctx
  const { record } = held
  const deliveries = names.jetStreams.deliveries
  // In a cluster the deliveries stream drops an acked message a moment after the ack is confirmed.
  for (let i = 1; i <= 10 && (await messageExists(ctx, deliveries, { seq: held.message.streamSeq })); i++)
    await sleep(5 * i)
  const left = await Promise.all(
    others.map((destination) =>
      messageExists(ctx, deliveries, { last_by_subj: names.delivery(destination, record.eventSeq) }),
    ),
  )
  if (left.some(Boolean)) return false
  if (!ctx.completed) return true
  const complete = await ctx.completed.has(record.eventId)
  if (!complete)
    ctx.log.debug('an event whose put is not known complete stays in NATS for the sweep', { id: record.eventId })
  return complete
}
