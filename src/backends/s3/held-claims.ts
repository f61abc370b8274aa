/**
 * What this process does with a claim it holds: load its event, extend its lease, and end it (ack, retry, dead). Each
 * write names the ETag of the holder's own lease write (`If-Match`), so a failed precondition means someone claimed the
 * delivery after the lease ran out: a LeaseLostError. An event copy goes once no delivery of its put refers to it.
 * @module
 */
import type { HookEvent } from '../../events/types.ts'
import type { Attempt, Claim, Queue } from '../../queue/types.ts'
import { endHeld, landed, lost, readFramed, type Held, type S3Context } from './queue-context.ts'
import {
  decodeDelivery,
  encodeDelivery,
  eventFrom,
  frame,
  isCopyHeader,
  newRev,
  type DeadHeader,
  type DeliveryState,
} from './delivery-objects.ts'
import { errorText } from '../../util/error-text.ts'

export type HeldClaims = Pick<Queue, 'load' | 'extend' | 'ack' | 'retry' | 'dead'>

export function s3HeldClaims(ctx: S3Context): HeldClaims {
  return {
    load: (claim) => loadEvent(ctx, claim),
    extend: (claim, leaseMs) => extendLease(ctx, claim, leaseMs),
    ack: (claim) => ack(ctx, claim),
    retry: (claim, at, attempt) => retryLater(ctx, claim, at, attempt),
    dead: (claim, attempts) => deadLetter(ctx, claim, attempts),
  }
}

async function loadEvent(ctx: S3Context, claim: Claim): Promise<HookEvent> {
  const { keys, objects, log, cache } = ctx
  const found = holder(ctx, claim)
  const copy = await readFramed(ctx, keys.copy(found.state.eventId, found.state.copy), isCopyHeader)
  if (!copy) {
    // Only if someone removed it by hand (or a lifecycle rule): nothing can be delivered.
    log.error('a delivery whose event is gone from the S3 queue; dropped', {
      id: claim.eventId,
      destination: claim.destination,
      copy: found.state.copy,
    })
    if ((await objects.delete(found.key, found.etag)) === 'deleted') cache.delete(found.key)
    endHeld(ctx, claim.token, found)
    throw new Error(
      `event ${claim.eventId} is not in the S3 queue any more; its delivery to ${claim.destination} was dropped`,
    )
  }
  return eventFrom(copy.header.meta, copy.body)
}

async function extendLease(ctx: S3Context, claim: Claim, leaseMs: number): Promise<void> {
  const found = holder(ctx, claim)
  const until = ctx.now() + leaseMs
  await rewrite(ctx, claim, found, { ...found.state, lease: { token: claim.token, until }, rev: newRev() })
  claim.leaseUntil = until
}

async function ack(ctx: S3Context, claim: Claim): Promise<void> {
  const found = holder(ctx, claim)
  // 'missing': gone already (this delete landed and was retried, or another holder ended it): done either way.
  const outcome = await ctx.objects.delete(found.key, found.etag)
  endHeld(ctx, claim.token, found)
  ctx.cache.delete(found.key)
  if (outcome === 'conflict') throw lost(claim)
  await dropCopyIfDone(ctx, found.state)
}

async function retryLater(ctx: S3Context, claim: Claim, at: number, attempt?: Attempt): Promise<void> {
  const found = holder(ctx, claim)
  const { lease: _lease, ...rest } = found.state
  await rewrite(ctx, claim, found, {
    ...rest,
    attempts: attempt ? [...rest.attempts, attempt] : rest.attempts,
    nextAt: at,
    rev: newRev(),
  })
  endHeld(ctx, claim.token, found)
  if (at <= ctx.now()) ctx.wake()
}

async function deadLetter(ctx: S3Context, claim: Claim, attempts: Attempt[]): Promise<void> {
  const { keys, objects, log, now, cache } = ctx
  const found = holder(ctx, claim)
  const deadKey = keys.dead(claim.destination, claim.eventId)
  const copy = await readFramed(ctx, keys.copy(found.state.eventId, found.state.copy), isCopyHeader)
  let written: string | undefined
  if (copy) {
    const header: DeadHeader = { meta: copy.header.meta, destination: claim.destination, deadAt: now(), attempts }
    written = (await objects.put(deadKey, frame(header, copy.body))) as string
  } else {
    log.error('a dead delivery whose event is gone from the S3 queue; no dead letter kept', {
      id: claim.eventId,
      destination: claim.destination,
    })
  }
  const outcome = await objects.delete(found.key, found.etag) // 'missing': as for ack, done
  endHeld(ctx, claim.token, found)
  cache.delete(found.key)
  if (outcome === 'conflict') {
    // Someone else holds the delivery now: its outcome counts, not this one.
    if (written) await objects.delete(deadKey, written).catch(() => {})
    throw lost(claim)
  }
  await dropCopyIfDone(ctx, found.state)
}

function holder(ctx: S3Context, claim: Claim): Held {
  const found = ctx.held.get(claim.token)
  if (!found) throw lost(claim)
  return found
}

/** The holder's write: `If-Match` on its lease write's ETag, or LeaseLostError. */
async function rewrite(ctx: S3Context, claim: Claim, found: Held, state: DeliveryState): Promise<void> {
  const { objects, cache } = ctx
  let etag = await objects.put(found.key, encodeDelivery(state), { ifMatch: found.etag })
  if (etag === 'conflict') {
    cache.delete(found.key)
    const mine = await landed(ctx, found.key, state.rev)
    if (!mine) {
      endHeld(ctx, claim.token, found)
      throw lost(claim)
    }
    etag = mine.etag
  }
  cache.set(found.key, { etag, state })
  found.etag = etag
  found.state = state
}

/** After a delivery ended: removes its event copy when no other delivery of the same put refers to it. */
async function dropCopyIfDone(ctx: S3Context, state: DeliveryState): Promise<void> {
  const { keys, objects, log } = ctx
  try {
    const others = state.group.filter((destination) => destination !== state.destination)
    const refs = await Promise.all(others.map((destination) => objects.get(keys.delivery(destination, state.eventId))))
    if (refs.some((got) => got && (decodeDelivery(got.body)?.copy ?? state.copy) === state.copy)) return
    await objects.delete(keys.copy(state.eventId, state.copy))
  } catch (error) {
    log.warn('cannot remove a finished event from the S3 queue; a sweep removes it later', {
      id: state.eventId,
      error: errorText(error),
    })
  }
}
