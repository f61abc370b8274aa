/**
 * The serverless queue: everything in one S3 bucket under a prefix, nothing kept between calls but a cache, so it
 * works from AWS Lambda, where nothing runs after the answer and two scheduled runs may overlap. Keys (keys.ts):
 *
 * - `deliveries/<destination>/<eventId>`: one JSON object per pending delivery (records.ts): since, attempts,
 *   nextAt, the event copy it sends, and the lease of the claim holding it (token, until).
 * - `events/<eventId>/<copy>`: the event, metadata and exact body, written by the put that added the deliveries.
 * - `dead/<destination>/<eventId>`: a dead letter with its own copy of the body.
 * - `seen/<eventId>`: the dedup window's marker.
 *
 * Every change is one conditional request on one key, so S3 decides every race:
 * - `put` creates each delivery with `If-None-Match: *`: a delivery that exists (pending, or claimed) is not
 *   doubled, whoever repeats the hook. The event copy is written first and each put writes its own (a copy is never
 *   shared by two puts, so removing the last one's copy cannot race with a repeat adding deliveries). A copy no
 *   delivery took (all were pending already) is removed at once.
 * - Dedup: with a window, a repeat is `duplicate` when `seen/<eventId>` was written within the window. The marker is
 *   written after the deliveries, so a put that died half-way (Lambda killed, S3 gone) is completed by the repeat
 *   rather than taken for done. Without a marker, a put whose deliveries were all pending already is `duplicate` too.
 * - `claim` lists the delivery keys (of one destination, or all), reads the states whose ETag it has not cached,
 *   and takes each due one (nextAt passed, no lease or an expired one) by rewriting it with a new lease under
 *   `If-Match` on the ETag it read: of two overlapping runs, one write wins and the other gets 412 and moves on.
 * - The holder's writes name the ETag of its own lease write: `ack` is a DeleteObject with `If-Match`, `retry` and
 *   `extend` are PutObjects with `If-Match`; a failed precondition is a lease lost (LeaseLostError): someone else
 *   claimed the delivery after the lease ran out.
 * - `dead` writes the dead letter, then deletes the delivery with `If-Match` (if the lease was lost, it takes its
 *   dead letter back). The event copy goes when no delivery of its put refers to it any more.
 * - `replay` writes a new copy and creates the delivery with `If-None-Match: *`, then deletes the dead letter with
 *   `If-Match` (a dead letter written again meanwhile stays). Any number of times, from any process.
 *
 * A write can land and still be answered with an error (a 5xx, then the SDK's retry fails its own precondition):
 * every write carries a random `rev`, so a refused write is checked against what is stored before it counts as
 * lost, and a conditional delete that finds nothing (404) counts as done.
 *
 * Leases are times written by the claimer's clock and read by the others' (Lambda clocks are NTP-synced; keep
 * leases far longer than any skew). `close` gives back the claims it holds; a holder that died leaves them
 * claimable once `leaseUntil` passed. A waiting claim looks again every `pollMs` (deliveries put by other
 * processes) or as soon as this process puts or retries one.
 *
 * Costs: a claim is one LIST per 1,000 pending deliveries plus a GET per delivery changed since this process last
 * read it (the cache maps ETags to states), plus one PUT per delivery taken. Bodies are not read to claim.
 *
 * What S3 itself must provide: conditional PutObject (`If-None-Match: *`, `If-Match`) and conditional DeleteObject
 * (`If-Match`). AWS S3 has all three (general purpose buckets: August 2024, November 2024, September 2025); a store
 * that ignores them makes every condition hold and loses the guarantees above: `probe()` tells (`hookcast check`).
 * @module
 */
import type { HookEvent } from '../../events/types.ts'
import type { Logger } from '../../log.ts'
import { deadLetterOf, matchesFilter } from '../dead-letter.ts'
import { LeaseLostError, QueueFullError, type Claim, type DeadLetter, type PutOptions, type Queue, type QueueStats } from '../types.ts'
import { s3QueueKeys } from './keys.ts'
import { probeConditionalRequests, s3Objects, type ConditionalSupport, type ListedObject, type S3Connection } from './objects.ts'
import {
  HEADER_PROBE_BYTES, copyReceivedAt, decodeDelivery, encodeDelivery, eventFrom, frame, isCopyHeader, isDeadHeader, metaOf,
  newCopyId, newRev, unframe, type CopyHeader, type DeadHeader, type DeliveryState,
} from './records.ts'

export interface S3QueueOptions extends S3Connection {
  /** Every key starts with `<prefix>/`. Default `hookcast`. */
  prefix?: string
  /** A put of an event id put within this window is dropped (`{ duplicate: true }`); 0: no window. */
  dedupWindowMs: number
  /** How often a waiting claim looks for deliveries put by other processes, ms. Default 1 s. */
  pollMs?: number
  /** Event copies no delivery refers to (a put that died half-way) are removed once this old, ms. Default 10 min. */
  orphanAgeMs?: number
  /** How often a claim starts a sweep (orphan copies, expired dedup markers), ms; 0: only `sweep()`. Default 10 min. */
  sweepEveryMs?: number
  /** Requests at once while reading many objects. Default 16. */
  concurrency?: number
  log: Logger
  now?: () => number
}

export interface S3SweepResult {
  /** Event copies removed (no delivery referred to them). */
  copies: number
  /** Dedup markers removed (older than the window). */
  markers: number
}

export interface S3Queue extends Queue {
  /** Removes orphan event copies and expired dedup markers now (a scheduled run may call it). */
  sweep(): Promise<S3SweepResult>
  /** Whether the bucket honours the conditional requests the queue relies on. */
  probe(): Promise<ConditionalSupport>
}

/** A claim this process holds: the delivery's key, the ETag of its lease write, and the state written. */
interface Held {
  key: string
  etag: string
  state: DeliveryState
}

interface Candidate {
  key: string
  etag: string
  state: DeliveryState
}

const decoder = new TextDecoder()
const encoder = new TextEncoder()

export async function openS3Queue(options: S3QueueOptions): Promise<S3Queue> {
  const now = options.now ?? Date.now
  const { log } = options
  const keys = s3QueueKeys(options.prefix)
  const objects = s3Objects(options)
  const pollMs = Math.max(10, options.pollMs ?? 1_000)
  const concurrency = Math.max(1, options.concurrency ?? 16)
  const windowMs = Math.max(0, options.dedupWindowMs)
  const orphanAgeMs = options.orphanAgeMs ?? 10 * 60_000
  const sweepEveryMs = options.sweepEveryMs ?? 10 * 60_000

  /** Delivery states by key, as last read or written here, with their ETag: a listed ETag that matches needs no GET. */
  const cache = new Map<string, { etag: string; state: DeliveryState }>()
  const held = new Map<string, Held>() // by claim token
  const heldKeys = new Map<string, string>() // delivery key -> token of the claim this process holds on it
  const taking = new Set<string>() // delivery keys this process is writing a lease on right now
  const unreadable = new Set<string>() // `${key} ${etag}` already logged
  const waiters = new Set<() => void>()
  const putting = new Map<string, Promise<{ duplicate: boolean }>>()
  let closed = false
  let sweeping: Promise<S3SweepResult> | undefined
  let nextSweepAt = now() + sweepEveryMs

  const wake = () => {
    for (const waiter of [...waiters]) waiter()
  }

  function nap(ms: number, signal?: AbortSignal): Promise<void> {
    if (ms <= 0 || signal?.aborted || closed) return Promise.resolve()
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
  }

  async function listAll(prefix: string): Promise<ListedObject[]> {
    const out: ListedObject[] = []
    for await (const object of objects.list(prefix)) out.push(object)
    return out
  }

  /** A delivery's state at `etag` (from the cache, or read); undefined when it is gone or not a delivery. */
  async function stateAt(key: string, etag: string): Promise<Candidate | undefined> {
    const cached = cache.get(key)
    if (cached && cached.etag === etag) return { key, ...cached }
    const got = await objects.get(key)
    if (!got) {
      cache.delete(key)
      return undefined
    }
    const state = decodeDelivery(got.body)
    if (!state) {
      if (!unreadable.has(`${key} ${got.etag}`)) {
        unreadable.add(`${key} ${got.etag}`)
        log.error('an object in the S3 queue\'s deliveries is not a delivery; left alone', { bucket: objects.bucket, key })
      }
      return undefined
    }
    cache.set(key, { etag: got.etag, state })
    return { key, etag: got.etag, state }
  }

  /**
   * A conditional write answered 412 may still have landed: S3 (or the SDK's retry after a 5xx that came after the
   * write) refuses the retry because the first attempt changed the object. Every write carries a unique `rev`, so
   * reading the object tells whether the current version is this write.
   */
  async function landed(key: string, rev: string): Promise<{ etag: string; state: DeliveryState } | undefined> {
    const got = await objects.get(key)
    const state = got && decodeDelivery(got.body)
    return got && state && state.rev === rev ? { etag: got.etag, state } : undefined
  }

  /** Due deliveries, oldest due first, and when the next one not due yet will be. */
  async function scan(destination: string | undefined): Promise<{ due: Candidate[]; wakeAt: number }> {
    const prefix = keys.deliveries(destination)
    const listed = (await listAll(prefix)).filter((object) => keys.parseDelivery(object.key))
    const present = new Set(listed.map((object) => object.key))
    for (const key of cache.keys()) if (key.startsWith(prefix) && !present.has(key)) cache.delete(key)
    const states = await mapLimit(listed, concurrency, (object) => stateAt(object.key, object.etag))
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

  function claimOf(state: DeliveryState): Claim {
    return {
      eventId: state.eventId, destination: state.destination, receivedAt: state.receivedAt, since: state.since,
      attempts: [...state.attempts], nextAt: state.nextAt, token: state.lease!.token, leaseUntil: state.lease!.until,
    }
  }

  /** Leases one delivery by rewriting it under `If-Match` on the ETag read; undefined when another write came first. */
  async function take(candidate: Candidate, leaseMs: number): Promise<Claim | undefined> {
    const token = crypto.randomUUID()
    const state: DeliveryState = { ...candidate.state, lease: { token, until: now() + leaseMs }, rev: newRev() }
    let etag = await objects.put(candidate.key, encodeDelivery(state), { ifMatch: candidate.etag })
    if (etag === 'conflict') {
      cache.delete(candidate.key)
      const mine = await landed(candidate.key, state.rev)
      if (!mine) return undefined // another claimer's write came first
      etag = mine.etag
    }
    cache.set(candidate.key, { etag, state })
    const previous = heldKeys.get(candidate.key)
    if (previous) held.delete(previous) // this process's own earlier claim, whose lease ran out
    held.set(token, { key: candidate.key, etag, state })
    heldKeys.set(candidate.key, token)
    return claimOf(state)
  }

  async function claimDue(destination: string | undefined, max: number, leaseMs: number): Promise<{ claims: Claim[]; wakeAt: number }> {
    const { due, wakeAt } = await scan(destination)
    const claims: Claim[] = []
    let failure: unknown
    for (let next = 0; claims.length < max && next < due.length && !closed;) {
      const batch: Candidate[] = []
      while (batch.length < max - claims.length && next < due.length) {
        const candidate = due[next++]!
        if (taking.has(candidate.key)) continue // a concurrent claim of this process is taking it
        taking.add(candidate.key)
        batch.push(candidate)
      }
      const results = await Promise.allSettled(batch.map((candidate) => take(candidate, leaseMs).finally(() => taking.delete(candidate.key))))
      for (const result of results) {
        if (result.status === 'fulfilled') {
          if (result.value) claims.push(result.value)
        } else failure ??= result.reason
      }
    }
    if (closed) {
      await Promise.all(claims.map((claim) => release(claim.token)))
      return { claims: [], wakeAt }
    }
    if (claims.length === 0 && failure) throw failure
    return { claims, wakeAt }
  }

  function holder(claim: Claim): Held {
    const found = held.get(claim.token)
    if (!found) throw lost(claim)
    return found
  }

  function end(token: string, found: Held): void {
    held.delete(token)
    if (heldKeys.get(found.key) === token) heldKeys.delete(found.key)
  }

  function lost(claim: Pick<Claim, 'eventId' | 'destination'>): LeaseLostError {
    return new LeaseLostError(`claim of ${claim.eventId} for ${claim.destination} is not held any more`)
  }

  /** The holder's write: `If-Match` on its lease write's ETag, or LeaseLostError. */
  async function rewrite(claim: Claim, found: Held, state: DeliveryState): Promise<void> {
    let etag = await objects.put(found.key, encodeDelivery(state), { ifMatch: found.etag })
    if (etag === 'conflict') {
      cache.delete(found.key)
      const mine = await landed(found.key, state.rev)
      if (!mine) {
        end(claim.token, found)
        throw lost(claim)
      }
      etag = mine.etag
    }
    cache.set(found.key, { etag, state })
    found.etag = etag
    found.state = state
  }

  /** Gives a held claim back (closing): the delivery is due again as it was. */
  async function release(token: string): Promise<void> {
    const found = held.get(token)
    if (!found) return
    end(token, found)
    const { lease: _lease, ...rest } = found.state
    await objects.put(found.key, encodeDelivery({ ...rest, rev: newRev() }), { ifMatch: found.etag }).catch(() => {})
    cache.delete(found.key)
  }

  async function readFramed<H>(key: string, valid: (header: unknown) => header is H): Promise<{ header: H; body: Uint8Array; etag: string } | undefined> {
    const got = await objects.get(key)
    if (!got) return undefined
    const framed = unframe<H>(got.body)
    if (!framed || 'needed' in framed || !valid(framed.header)) throw new Error(`s3://${objects.bucket}/${key} is not an object of the S3 queue`)
    return { header: framed.header, body: framed.body, etag: got.etag }
  }

  /** A framed object's header, reading only its first bytes. */
  async function readHeader<H>(key: string, valid: (header: unknown) => header is H): Promise<H | undefined> {
    let got = await objects.get(key, { bytes: HEADER_PROBE_BYTES })
    let framed = got && unframe<H>(got.body)
    if (framed && 'needed' in framed) {
      got = await objects.get(key, { bytes: framed.needed })
      framed = got && unframe<H>(got.body)
    }
    return framed && !('needed' in framed) && valid(framed.header) ? framed.header : undefined
  }

  /** After a delivery ended: removes its event copy when no other delivery of the same put refers to it. */
  async function dropCopyIfDone(state: DeliveryState): Promise<void> {
    try {
      const others = state.group.filter((destination) => destination !== state.destination)
      const refs = await Promise.all(others.map((destination) => objects.get(keys.delivery(destination, state.eventId))))
      if (refs.some((got) => got && (decodeDelivery(got.body)?.copy ?? state.copy) === state.copy)) return
      await objects.delete(keys.copy(state.eventId, state.copy))
    } catch (error) {
      log.warn('cannot remove a finished event from the S3 queue; a sweep removes it later', { id: state.eventId, error: errorText(error) })
    }
  }

  async function putOnce(event: HookEvent, destinations: readonly string[], notBefore: number): Promise<{ duplicate: boolean }> {
    const copy = newCopyId(event.receivedAt)
    const copyKey = keys.copy(event.id, copy)
    const group = [...new Set(destinations)]
    const [seen] = await Promise.all([
      windowMs > 0 ? objects.get(keys.seen(event.id)) : undefined,
      objects.put(copyKey, frame({ meta: metaOf(event), group } satisfies CopyHeader, event.body)),
    ])
    if (seen && seenSince(seen.body) > now() - windowMs) {
      await objects.delete(copyKey).catch(() => {}) // else swept as an orphan
      return { duplicate: true }
    }
    const results = await Promise.all(group.map(async (destination) => {
      const key = keys.delivery(destination, event.id)
      const state: DeliveryState = {
        v: 1, eventId: event.id, destination, copy, group, receivedAt: event.receivedAt, since: event.receivedAt,
        attempts: [], nextAt: notBefore, rev: newRev(),
      }
      const etag = await objects.put(key, encodeDelivery(state), { ifNoneMatch: '*' })
      // Pending already (a repeat), unless the refused write is a retry of this very one (see `landed`).
      const created = etag !== 'conflict' ? { etag, state } : await landed(key, state.rev)
      if (created) cache.set(key, created)
      return created !== undefined
    }))
    const added = results.filter(Boolean).length
    if (added === 0) await objects.delete(copyKey).catch(() => {})
    // Only now: a put that dies before this point is completed by the hook's repeat, not taken for done.
    if (windowMs > 0) await objects.put(keys.seen(event.id), encoder.encode(JSON.stringify({ at: now() })))
    if (added > 0) wake()
    return { duplicate: added === 0 }
  }

  async function sweep(): Promise<S3SweepResult> {
    const result: S3SweepResult = { copies: 0, markers: 0 }
    const cutoff = now() - orphanAgeMs
    const old = (await listAll(keys.copies())).filter((object) => object.lastModified < cutoff)
    await mapLimit(old, concurrency, async (object) => {
      const parsed = keys.parseCopy(object.key)
      const header = parsed && await readHeader(object.key, isCopyHeader)
      if (!parsed || !header) return
      const refs = await Promise.all(header.group.map((destination) => objects.get(keys.delivery(destination, parsed.eventId))))
      if (refs.some((got) => got && (decodeDelivery(got.body)?.copy ?? parsed.copy) === parsed.copy)) return
      await objects.delete(object.key)
      result.copies++
    })
    const expired = (await listAll(keys.seenAll())).filter((object) => object.lastModified < now() - windowMs)
    await mapLimit(expired, concurrency, async (object) => {
      // Only that version: a marker written again meanwhile stays. 'missing': gone already (a retried delete).
      if ((await objects.delete(object.key, object.etag)) !== 'conflict') result.markers++
    })
    if (result.copies > 0) log.warn('removed event copies that no delivery referred to from the S3 queue', { ...result })
    return result
  }

  function maybeSweep(): void {
    if (sweepEveryMs <= 0 || sweeping || now() < nextSweepAt) return
    nextSweepAt = now() + sweepEveryMs
    sweeping = sweep()
      .catch((error) => {
        log.warn('cannot sweep the S3 queue; trying again later', { error: errorText(error) })
        return { copies: 0, markers: 0 }
      })
      .finally(() => { sweeping = undefined })
  }

  async function put(event: HookEvent, destinations: readonly string[], putOptions: PutOptions = {}): Promise<{ duplicate: boolean }> {
    if (closed) throw new QueueFullError('queue is closed')
    if (destinations.length === 0) return { duplicate: false }
    const earlier = putting.get(event.id)
    if (earlier) {
      // An identical put under way: answered once it is durable; put instead if it fails.
      if (await earlier.then(() => true, () => false)) return { duplicate: true }
      return put(event, destinations, putOptions)
    }
    const work = putOnce(event, destinations, putOptions.notBefore ?? 0).catch((error: unknown) => {
      log.error('S3 did not take an event', { id: event.id, error: errorText(error) })
      throw new QueueFullError(`S3 did not take the event: ${errorText(error)}`, { cause: error })
    })
    putting.set(event.id, work)
    try {
      return await work
    } finally {
      if (putting.get(event.id) === work) putting.delete(event.id)
    }
  }

  return {
    put,

    async claim({ destination, max, leaseMs, waitMs = 0, signal }) {
      if (closed || max <= 0) return []
      maybeSweep()
      const deadline = now() + waitMs
      for (;;) {
        const { claims, wakeAt } = await claimDue(destination, max, leaseMs)
        if (claims.length > 0 || closed || signal?.aborted || now() >= deadline) return claims
        await nap(Math.min(deadline, wakeAt, now() + pollMs) - now(), signal)
      }
    },

    async load(claim) {
      const found = holder(claim)
      const copy = await readFramed(keys.copy(found.state.eventId, found.state.copy), isCopyHeader)
      if (!copy) {
        // Only if someone removed it by hand (or a lifecycle rule): nothing can be delivered.
        log.error('a delivery whose event is gone from the S3 queue; dropped', { id: claim.eventId, destination: claim.destination, copy: found.state.copy })
        if ((await objects.delete(found.key, found.etag)) === 'deleted') cache.delete(found.key)
        end(claim.token, found)
        throw new Error(`event ${claim.eventId} is not in the S3 queue any more; its delivery to ${claim.destination} was dropped`)
      }
      return eventFrom(copy.header.meta, copy.body)
    },

    async extend(claim, leaseMs) {
      const found = holder(claim)
      const until = now() + leaseMs
      await rewrite(claim, found, { ...found.state, lease: { token: claim.token, until }, rev: newRev() })
      claim.leaseUntil = until
    },

    async ack(claim) {
      const found = holder(claim)
      // 'missing': gone already (this delete landed and was retried, or another holder ended it): done either way.
      const outcome = await objects.delete(found.key, found.etag)
      end(claim.token, found)
      cache.delete(found.key)
      if (outcome === 'conflict') throw lost(claim)
      await dropCopyIfDone(found.state)
    },

    async retry(claim, at, attempt) {
      const found = holder(claim)
      const { lease: _lease, ...rest } = found.state
      await rewrite(claim, found, { ...rest, attempts: attempt ? [...rest.attempts, attempt] : rest.attempts, nextAt: at, rev: newRev() })
      end(claim.token, found)
      if (at <= now()) wake()
    },

    async dead(claim, attempts) {
      const found = holder(claim)
      const deadKey = keys.dead(claim.destination, claim.eventId)
      const copy = await readFramed(keys.copy(found.state.eventId, found.state.copy), isCopyHeader)
      let written: string | undefined
      if (copy) {
        const header: DeadHeader = { meta: copy.header.meta, destination: claim.destination, deadAt: now(), attempts }
        written = await objects.put(deadKey, frame(header, copy.body)) as string
      } else {
        log.error('a dead delivery whose event is gone from the S3 queue; no dead letter kept', { id: claim.eventId, destination: claim.destination })
      }
      const outcome = await objects.delete(found.key, found.etag) // 'missing': as for ack, done
      end(claim.token, found)
      cache.delete(found.key)
      if (outcome === 'conflict') {
        // Someone else holds the delivery now: its outcome counts, not this one.
        if (written) await objects.delete(deadKey, written).catch(() => {})
        throw lost(claim)
      }
      await dropCopyIfDone(found.state)
    },

    async deadLetters(filter = {}) {
      const listed = (await listAll(keys.deadLetters(filter.destination)))
        .filter((object) => {
          const parsed = keys.parseDead(object.key)
          return parsed && (filter.eventId === undefined || parsed.eventId === filter.eventId)
        })
      const letters = await mapLimit(listed, concurrency, async (object): Promise<DeadLetter | undefined> => {
        const header = await readHeader(object.key, isDeadHeader)
        if (!header) return undefined
        return deadLetterOf(header.meta, {
          eventId: header.meta.id, destination: header.destination, receivedAt: header.meta.receivedAt,
          since: header.meta.receivedAt, attempts: header.attempts, nextAt: 0,
        }, header.deadAt)
      })
      return letters.filter((letter): letter is DeadLetter => letter !== undefined && matchesFilter(letter, filter))
        .sort((a, b) => a.deadAt - b.deadAt)
    },

    async replay(filter = {}) {
      const listed = (await listAll(keys.deadLetters(filter.destination)))
        .filter((object) => {
          const parsed = keys.parseDead(object.key)
          return parsed && (filter.eventId === undefined || parsed.eventId === filter.eventId)
        })
      let count = 0
      for (const object of listed) {
        const letter = await readFramed(object.key, isDeadHeader).catch((error: unknown) => {
          log.warn('an unreadable dead letter in the S3 queue; left as it is', { key: object.key, error: errorText(error) })
          return undefined
        })
        if (!letter) continue
        const { meta, destination } = letter.header
        const copy = newCopyId(meta.receivedAt)
        const copyKey = keys.copy(meta.id, copy)
        await objects.put(copyKey, frame({ meta, group: [destination] } satisfies CopyHeader, letter.body))
        const key = keys.delivery(destination, meta.id)
        const state: DeliveryState = {
          v: 1, eventId: meta.id, destination, copy, group: [destination], receivedAt: meta.receivedAt, since: now(),
          attempts: [], nextAt: 0, rev: newRev(),
        }
        const etag = await objects.put(key, encodeDelivery(state), { ifNoneMatch: '*' })
        const created = etag !== 'conflict' ? { etag, state } : await landed(key, state.rev)
        if (!created) {
          await objects.delete(copyKey) // pending already (another replay, or a repeat of the hook)
        } else {
          cache.set(key, created)
          count++
        }
        // Only this version: a dead letter written again meanwhile (replayed, failed again) stays.
        await objects.delete(object.key, letter.etag)
      }
      if (count > 0) wake()
      return count
    },

    async stats(): Promise<QueueStats> {
      const [copies, deliveries, dead] = await Promise.all([keys.copies(), keys.deliveries(), keys.deadLetters()].map(listAll))
      const destinations: Record<string, number> = Object.create(null)
      for (const object of deliveries!) {
        const parsed = keys.parseDelivery(object.key)
        if (parsed) destinations[parsed.destination] = (destinations[parsed.destination] ?? 0) + 1
      }
      const events = new Set<string>()
      let oldest = Infinity
      for (const object of copies!) {
        const parsed = keys.parseCopy(object.key)
        if (!parsed) continue
        events.add(parsed.eventId)
        oldest = Math.min(oldest, copyReceivedAt(parsed.copy) ?? Infinity)
      }
      const size = (list: ListedObject[]) => list.reduce((sum, object) => sum + object.size, 0)
      return {
        pendingEvents: events.size,
        pendingDeliveries: Object.values(destinations).reduce((a, b) => a + b, 0),
        deadLetters: dead!.filter((object) => keys.parseDead(object.key)).length,
        bytes: size(copies!) + size(deliveries!) + size(dead!),
        oldestPendingAgeMs: oldest === Infinity ? 0 : Math.max(0, now() - oldest),
        destinations,
      }
    },

    sweep: () => sweeping ??= sweep().finally(() => { sweeping = undefined }),
    probe: () => probeConditionalRequests(objects, keys.root),

    async close() {
      if (closed) return
      closed = true
      wake()
      // Claims do not outlive the queue: given back now rather than when their lease runs out.
      await Promise.all([...held.keys()].map(release))
      await sweeping?.catch(() => {})
      objects.close()
    },
  }
}

/** When a dedup marker was written (0 when it is unreadable: then it does not count). */
function seenSince(bytes: Uint8Array): number {
  try {
    const at = (JSON.parse(decoder.decode(bytes)) as { at?: unknown }).at
    return typeof at === 'number' ? at : 0
  } catch {
    return 0
  }
}

/** `run` over `items`, at most `limit` at once, results in order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, run: (item: T) => Promise<R>): Promise<R[]> {
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

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
