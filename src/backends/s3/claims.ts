/**
 * Claiming: list the delivery keys (of one destination, or all), read the states whose ETag is not cached, and take
 * each due one (nextAt passed, no lease or an expired one) by rewriting it with a new lease under `If-Match` on the
 * ETag read: of two overlapping runs, one write wins and the other gets 412 and moves on. With `eventId` only that
 * event's deliveries are taken; with a destination too, its delivery is read by key (one GET). A waiting claim looks
 * again every `pollMs`, or as soon as this process puts or retries a delivery (`wake`).
 * @module
 */
import type { Claim, Queue } from '../../queue/types.ts'
import { landed, listAll, mapLimit, release, type S3Context } from './queue-context.ts'
import { decodeDelivery, encodeDelivery, newRev, type DeliveryState } from './delivery-objects.ts'

interface Candidate {
  key: string
  etag: string
  state: DeliveryState
}

/** Waiting claims: `nap` until `wake` (or the time, or the signal, or closing). */
export function waitingRoom(state: { closed: boolean }): {
  wake(): void
  nap(ms: number, signal?: AbortSignal): Promise<void>
} {
  const waiters = new Set<() => void>()
  return {
    wake() {
      for (const waiter of [...waiters]) waiter()
    },
    nap(ms, signal) {
      if (ms <= 0 || signal?.aborted || state.closed) return Promise.resolve()
      return new Promise((resolve) => {
        const done = () => {
          clearTimeout(timer)
          waiters.delete(done)
          signal?.removeEventListener('abort', done)
          resolve()
        }
        const timer = setTimeout(done, ms)
        waiters.add(done)
        signal?.addEventListener('abort', done, { once: true })
      })
    },
  }
}

export function s3Claims(
  ctx: S3Context,
  settings: { pollMs: number; nap(ms: number, signal?: AbortSignal): Promise<void>; beforeClaim(): void },
): Queue['claim'] {
  const { keys, objects, log, now, cache, state: queue } = ctx
  const taking = new Set<string>() // delivery keys this process is writing a lease on right now
  const unreadable = new Set<string>() // `${key} ${etag}` already logged

  /** A delivery's state at `etag` (from the cache, or read); undefined when it is gone or not a delivery. */
  async function stateAt(key: string, etag: string): Promise<Candidate | undefined> {
    const cached = cache.get(key)
    if (cached && cached.etag === etag) return { key, ...cached }
    return read(key)
  }

  /** A delivery's current state, read (one GET); undefined when it is gone or not a delivery. */
  async function read(key: string): Promise<Candidate | undefined> {
    const got = await objects.get(key)
    if (!got) {
      cache.delete(key)
      return undefined
    }
    const state = decodeDelivery(got.body)
    if (!state) {
      if (!unreadable.has(`${key} ${got.etag}`)) {
        unreadable.add(`${key} ${got.etag}`)
        log.error("an object in the S3 queue's deliveries is not a delivery; left alone", {
          bucket: objects.bucket,
          key,
        })
      }
      return undefined
    }
    cache.set(key, { etag: got.etag, state })
    return { key, etag: got.etag, state }
  }

  /**
   * Due deliveries, oldest due first, and when the next one not due yet will be. One event's delivery to one
   * destination is read by its key (one GET, no LIST); one event's deliveries to any destination are listed.
   */
  async function scan(
    destination: string | undefined,
    eventId: string | undefined,
  ): Promise<{ due: Candidate[]; wakeAt: number }> {
    if (destination !== undefined && eventId !== undefined)
      return sorted([await read(keys.delivery(destination, eventId))])
    const prefix = keys.deliveries(destination)
    const all = (await listAll(ctx, prefix)).filter((object) => keys.parseDelivery(object.key))
    const present = new Set(all.map((object) => object.key))
    for (const key of cache.keys()) if (key.startsWith(prefix) && !present.has(key)) cache.delete(key)
    const listed =
      eventId === undefined ? all : all.filter((object) => keys.parseDelivery(object.key)!.eventId === eventId)
    return sorted(await mapLimit(listed, ctx.concurrency, (object) => stateAt(object.key, object.etag)))
  }

  function sorted(states: readonly (Candidate | undefined)[]): { due: Candidate[]; wakeAt: number } {
    const at = now()
    const due: Candidate[] = []
    let wakeAt = Infinity
    for (const candidate of states) {
      if (!candidate) continue
      const dueAt = Math.max(candidate.state.nextAt, candidate.state.lease?.until ?? 0)
      if (dueAt <= at) due.push(candidate)
      else wakeAt = Math.min(wakeAt, dueAt)
    }
    due.sort((a, b) => a.state.nextAt - b.state.nextAt || a.state.receivedAt - b.state.receivedAt)
    return { due, wakeAt }
  }

  /** Leases one delivery by rewriting it under `If-Match` on the ETag read; undefined when another write came first. */
  async function take(candidate: Candidate, leaseMs: number): Promise<Claim | undefined> {
    const token = crypto.randomUUID()
    const state: DeliveryState = { ...candidate.state, lease: { token, until: now() + leaseMs }, rev: newRev() }
    let etag = await objects.put(candidate.key, encodeDelivery(state), { ifMatch: candidate.etag })
    if (etag === 'conflict') {
      cache.delete(candidate.key)
      const mine = await landed(ctx, candidate.key, state.rev)
      if (!mine) return undefined // another claimer's write came first
      etag = mine.etag
    }
    cache.set(candidate.key, { etag, state })
    const previous = ctx.heldKeys.get(candidate.key)
    if (previous) ctx.held.delete(previous) // this process's own earlier claim, whose lease ran out
    ctx.held.set(token, { key: candidate.key, etag, state })
    ctx.heldKeys.set(candidate.key, token)
    return claimOf(state)
  }

  async function claimDue(
    destination: string | undefined,
    eventId: string | undefined,
    max: number,
    leaseMs: number,
  ): Promise<{ claims: Claim[]; wakeAt: number }> {
    const { due, wakeAt } = await scan(destination, eventId)
    const claims: Claim[] = []
    let failure: unknown
    for (let next = 0; claims.length < max && next < due.length && !queue.closed; ) {
      const batch: Candidate[] = []
      while (batch.length < max - claims.length && next < due.length) {
        const candidate = due[next++]!
        if (taking.has(candidate.key)) continue // a concurrent claim of this process is taking it
        taking.add(candidate.key)
        batch.push(candidate)
      }
      const results = await Promise.allSettled(
        batch.map((candidate) => take(candidate, leaseMs).finally(() => taking.delete(candidate.key))),
      )
      for (const result of results) {
        if (result.status === 'fulfilled') {
          if (result.value) claims.push(result.value)
        } else failure ??= result.reason
      }
    }
    if (queue.closed) {
      await Promise.all(claims.map((claim) => release(ctx, claim.token)))
      return { claims: [], wakeAt }
    }
    if (claims.length === 0 && failure) throw failure
    return { claims, wakeAt }
  }

  return async ({ destination, eventId, max, leaseMs, waitMs = 0, signal }) => {
    if (queue.closed || max <= 0) return []
    settings.beforeClaim()
    const deadline = now() + waitMs
    for (;;) {
      const { claims, wakeAt } = await claimDue(destination, eventId, max, leaseMs)
      if (claims.length > 0 || queue.closed || signal?.aborted || now() >= deadline) return claims
      await settings.nap(Math.min(deadline, wakeAt, now() + settings.pollMs) - now(), signal)
    }
  }
}

function claimOf(state: DeliveryState): Claim {
  return {
    eventId: state.eventId,
    destination: state.destination,
    receivedAt: state.receivedAt,
    since: state.since,
    attempts: [...state.attempts],
    nextAt: state.nextAt,
    token: state.lease!.token,
    leaseUntil: state.lease!.until,
  }
}
