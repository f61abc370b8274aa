/**
 * Claiming: list the deliveries, read those whose ETag is not cached, and lease each due one by rewriting it under
 * `If-Match` on the ETag read: of two overlapping claimers one write wins, the other gets 412 and moves on. A claim
 * costs a LIST per 1,000 pending deliveries, a GET per delivery changed since this process last read it and a PUT per
 * delivery taken (one event's delivery to one destination: one GET); bodies are not read. A waiting claim looks again
 * every `pollMs`, or as soon as this process puts or retries a delivery.
 * @module
 */
import type { Claim, Queue } from '../../queue/types.ts'
import { landed, mapLimit, release, type S3Context } from './queue-context.ts'
import { listAll } from './objects.ts'
import { decodeDelivery, encodeDelivery, newRev, type DeliveryState } from './delivery-objects.ts'

/** A delivery as read: its key, the ETag read and its state. */
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

/** What the steps of a claim share. */
interface Claiming {
  ctx: S3Context
  /** Delivery keys this process is writing a lease on right now. */
  taking: Set<string>
  /** `${key} ${etag}` of the objects already logged as not deliveries. */
  unreadable: Set<string>
}

export function s3Claims(
  ctx: S3Context,
  settings: { pollMs: number; nap(ms: number, signal?: AbortSignal): Promise<void>; beforeClaim(): void },
): Queue['claim'] {
  const claiming: Claiming = { ctx, taking: new Set(), unreadable: new Set() }
  const { now, state: queue } = ctx
  return async ({ destination, eventId, max, leaseMs, waitMs = 0, signal }) => {
    if (queue.closed || max <= 0) return []
    settings.beforeClaim()
    const deadline = now() + waitMs
    for (;;) {
      const { claims, wakeAt } = await claimDue(claiming, destination, eventId, max, leaseMs)
      if (claims.length > 0 || queue.closed || signal?.aborted || now() >= deadline) return claims
      await settings.nap(Math.min(deadline, wakeAt, now() + settings.pollMs) - now(), signal)
    }
  }
}

/** Takes up to `max` due deliveries; resolves them and when the next one not due yet will be. */
async function claimDue(
  claiming: Claiming,
  destination: string | undefined,
  eventId: string | undefined,
  max: number,
  leaseMs: number,
): Promise<{ claims: Claim[]; wakeAt: number }> {
  const { ctx, taking } = claiming
  const { due, wakeAt } = await scan(claiming, destination, eventId)
  const claims: Claim[] = []
  let failure: unknown
  for (let next = 0; claims.length < max && next < due.length && !ctx.state.closed; ) {
    const batch: Candidate[] = []
    while (batch.length < max - claims.length && next < due.length) {
      const candidate = due[next++]!
      if (taking.has(candidate.key)) continue // a concurrent claim of this process is taking it
      taking.add(candidate.key)
      batch.push(candidate)
    }
    const results = await Promise.allSettled(
      batch.map((candidate) => take(ctx, candidate, leaseMs).finally(() => taking.delete(candidate.key))),
    )
    for (const result of results) {
      if (result.status === 'fulfilled') {
        if (result.value) claims.push(result.value)
      } else failure ??= result.reason
    }
  }
  if (ctx.state.closed) {
    await Promise.all(claims.map((claim) => release(ctx, claim.token)))
    return { claims: [], wakeAt }
  }
  if (claims.length === 0 && failure) throw failure
  return { claims, wakeAt }
}

/**
 * Due deliveries, oldest due first, and when the next one not due yet will be. One event's delivery to one
 * destination is read by its key (one GET, no LIST); one event's deliveries to any destination are listed.
 */
async function scan(
  claiming: Claiming,
  destination: string | undefined,
  eventId: string | undefined,
): Promise<{ due: Candidate[]; wakeAt: number }> {
  const { ctx } = claiming
  const { keys, cache, now } = ctx
  if (destination !== undefined && eventId !== undefined)
    return dueFirst([await readDelivery(claiming, keys.delivery(destination, eventId))], now())
  const prefix = keys.deliveries(destination)
  const all = (await listAll(ctx.objects, prefix)).filter((object) => keys.parseDelivery(object.key))
  const present = new Set(all.map((object) => object.key))
  for (const key of cache.keys()) if (key.startsWith(prefix) && !present.has(key)) cache.delete(key)
  const listed =
    eventId === undefined ? all : all.filter((object) => keys.parseDelivery(object.key)!.eventId === eventId)
  const states = await mapLimit(listed, ctx.concurrency, (object) => stateAt(claiming, object.key, object.etag))
  return dueFirst(states, now())
}

/**
 * The deliveries due at `at` (next try passed, no lease or an expired one), oldest due first, and when the next one
 * not due yet will be (Infinity: none).
 */
export function dueFirst(
  candidates: readonly (Candidate | undefined)[],
  at: number,
): { due: Candidate[]; wakeAt: number } {
  const due: Candidate[] = []
  let wakeAt = Infinity
  for (const candidate of candidates) {
    if (!candidate) continue
    const dueAt = Math.max(candidate.state.nextAt, candidate.state.lease?.until ?? 0)
    if (dueAt <= at) due.push(candidate)
    else wakeAt = Math.min(wakeAt, dueAt)
  }
  due.sort((a, b) => a.state.nextAt - b.state.nextAt || a.state.receivedAt - b.state.receivedAt)
  return { due, wakeAt }
}

/** A delivery's state at `etag` (from the cache, or read); undefined when it is gone or not a delivery. */
async function stateAt(claiming: Claiming, key: string, etag: string): Promise<Candidate | undefined> {
  const cached = claiming.ctx.cache.get(key)
  if (cached && cached.etag === etag) return { key, ...cached }
  return readDelivery(claiming, key)
}

/** A delivery's current state, read (one GET); undefined when it is gone or not a delivery. */
async function readDelivery(claiming: Claiming, key: string): Promise<Candidate | undefined> {
  const { objects, cache, log } = claiming.ctx
  const got = await objects.get(key)
  if (!got) {
    cache.delete(key)
    return undefined
  }
  const state = decodeDelivery(got.body)
  if (!state) {
    if (!claiming.unreadable.has(`${key} ${got.etag}`)) {
      claiming.unreadable.add(`${key} ${got.etag}`)
      log.error("an object in the S3 queue's deliveries is not a delivery; left alone", { bucket: objects.bucket, key })
    }
    return undefined
  }
  cache.set(key, { etag: got.etag, state })
  return { key, etag: got.etag, state }
}

/** Leases one delivery by rewriting it under `If-Match` on the ETag read; undefined when another write came first. */
async function take(ctx: S3Context, candidate: Candidate, leaseMs: number): Promise<Claim | undefined> {
  const { objects, cache, now } = ctx
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
