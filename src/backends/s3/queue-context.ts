/**
 * What the S3 queue's parts share: the bucket, the keys, the cache of delivery states, the claims this process
 * holds, whether the queue is closed, and the helpers to read what is stored.
 * @module
 */
import type { Logger } from '../../log.ts'
import { LeaseLostError, type Claim } from '../../queue/types.ts'
import type { S3QueueKeys } from './queue-keys.ts'
import type { Objects } from './objects.ts'
import {
  HEADER_PROBE_BYTES,
  decodeDelivery,
  encodeDelivery,
  newRev,
  unframe,
  type DeliveryState,
} from './delivery-objects.ts'

/** A claim this process holds: the delivery's key, the ETag of its lease write, and the state written. */
export interface Held {
  key: string
  etag: string
  state: DeliveryState
}

export interface S3Context {
  keys: S3QueueKeys
  objects: Objects
  log: Logger
  now: () => number
  /** Requests at once while reading many objects. */
  concurrency: number
  /** The dedup window, ms; 0: none. */
  windowMs: number
  /** Delivery states by key, as last read or written here, with their ETag: a listed ETag that matches needs no GET. */
  cache: Map<string, { etag: string; state: DeliveryState }>
  /** Claims this process holds, by claim token. */
  held: Map<string, Held>
  /** Delivery key -> token of the claim this process holds on it. */
  heldKeys: Map<string, string>
  /** `closed` is set once, by the queue's `close`. */
  state: { closed: boolean }
  /** Wakes the waiting claims (a delivery became due here). */
  wake(): void
}

/**
 * A conditional write answered 412 may still have landed: S3 (or the SDK's retry after a 5xx that came after the
 * write) refuses the retry because the first attempt changed the object. Every write carries a unique `rev`, so
 * reading the object tells whether the current version is this write.
 */
export async function landed(
  ctx: S3Context,
  key: string,
  rev: string,
): Promise<{ etag: string; state: DeliveryState } | undefined> {
  const got = await ctx.objects.get(key)
  const state = got && decodeDelivery(got.body)
  return got && state && state.rev === rev ? { etag: got.etag, state } : undefined
}

/** A new delivery, due at `nextAt`, no attempt made. */
export function newDelivery(
  fields: Pick<DeliveryState, 'eventId' | 'destination' | 'copy' | 'group' | 'receivedAt' | 'since' | 'nextAt'>,
): DeliveryState {
  const { eventId, destination, copy, group, receivedAt, since, nextAt } = fields
  return { v: 1, eventId, destination, copy, group, receivedAt, since, attempts: [], nextAt, rev: newRev() }
}

/**
 * Creates a delivery object with `If-None-Match: *`, so a pending one is never doubled; false when one was pending
 * already, unless the refused write is a retry of this very one (see `landed`).
 */
export async function createDelivery(ctx: S3Context, state: DeliveryState): Promise<boolean> {
  const key = ctx.keys.delivery(state.destination, state.eventId)
  const etag = await ctx.objects.put(key, encodeDelivery(state), { ifNoneMatch: '*' })
  const created = etag !== 'conflict' ? { etag, state } : await landed(ctx, key, state.rev)
  if (created) ctx.cache.set(key, created)
  return created !== undefined
}

export async function readFramed<H>(
  ctx: S3Context,
  key: string,
  valid: (header: unknown) => header is H,
): Promise<{ header: H; body: Uint8Array; etag: string } | undefined> {
  const got = await ctx.objects.get(key)
  if (!got) return undefined
  const framed = unframe<H>(got.body)
  if (!framed || 'needed' in framed || !valid(framed.header))
    throw new Error(`s3://${ctx.objects.bucket}/${key} is not an object of the S3 queue`)
  return { header: framed.header, body: framed.body, etag: got.etag }
}

/** A framed object's header, reading only its first bytes. */
export async function readHeader<H>(
  ctx: S3Context,
  key: string,
  valid: (header: unknown) => header is H,
): Promise<H | undefined> {
  let got = await ctx.objects.get(key, { bytes: HEADER_PROBE_BYTES })
  let framed = got && unframe<H>(got.body)
  if (framed && 'needed' in framed) {
    got = await ctx.objects.get(key, { bytes: framed.needed })
    framed = got && unframe<H>(got.body)
  }
  return framed && !('needed' in framed) && valid(framed.header) ? framed.header : undefined
}

export function endHeld(ctx: S3Context, token: string, found: Held): void {
  ctx.held.delete(token)
  if (ctx.heldKeys.get(found.key) === token) ctx.heldKeys.delete(found.key)
}

export function lost(claim: Pick<Claim, 'eventId' | 'destination'>): LeaseLostError {
  return new LeaseLostError(`claim of ${claim.eventId} for ${claim.destination} is not held any more`)
}

/** Gives a held claim back (closing): the delivery is due again as it was. */
export async function release(ctx: S3Context, token: string): Promise<void> {
  const found = ctx.held.get(token)
  if (!found) return
  endHeld(ctx, token, found)
  const { lease: _lease, ...rest } = found.state
  await ctx.objects.put(found.key, encodeDelivery({ ...rest, rev: newRev() }), { ifMatch: found.etag }).catch(() => {})
  ctx.cache.delete(found.key)
}

/** `run` over `items`, at most `limit` at once, results in order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, run: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  const lane = async () => {
    while (next < items.length) {
      const index = next++
      out[index] = await run(items[index]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane))
  return out
}
