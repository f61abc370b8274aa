/**
 * The in-process side of a queue: which deliveries are due, which are claimed and until when, and who is waiting
 * for work. The memory and local queues keep their deliveries here; what they add is where events and the state
 * changes are kept (nowhere, or a log on disk).
 *
 * Heaps are lazy: an item whose delivery moved on since it was pushed is skipped when it comes up.
 * @module
 */
import { MinHeap } from '../util/min-heap.ts'
import { LeaseLostError, type Attempt, type Claim, type ClaimOptions, type Delivery } from './types.ts'

interface Entry {
  delivery: Delivery
  /** The current claim's token; undefined while the delivery waits. */
  token: string | undefined
  leaseUntil: number
  /** Bumped at every change, so stale heap items can be recognised. */
  version: number
}

interface Slot {
  entry: Entry
  version: number
  at: number
  /** Order of arrival among slots of the same `at`. */
  seq?: number
}

interface Waiter {
  destination: string | undefined
  wake(): void
}

export class ClaimBoard {
  readonly #entries = new Map<string, Entry>()
  readonly #due = new Map<string, MinHeap<Slot>>() // per destination: waiting deliveries by nextAt
  readonly #leases = new MinHeap<Slot>((slot) => slot.at)
  readonly #waiters = new Set<Waiter>()
  readonly #now: () => number
  #seq = 0
  #timer: ReturnType<typeof setTimeout> | undefined
  #timerAt = Infinity

  constructor(now: () => number) {
    this.#now = now
  }

  get size(): number {
    return this.#entries.size
  }

  /** A delivery's current state, claimed or not. */
  get(eventId: string, destination: string): Delivery | undefined {
    return this.#entries.get(key(eventId, destination))?.delivery
  }

  /** Adds a waiting delivery (a put, a replay, one recovered at start). An existing one is left as it is. */
  add(delivery: Delivery): boolean {
    const id = key(delivery.eventId, delivery.destination)
    if (this.#entries.has(id)) return false
    const entry: Entry = { delivery, token: undefined, leaseUntil: 0, version: 0 }
    this.#entries.set(id, entry)
    this.#wait(entry)
    return true
  }

  /** Claims up to `max` due deliveries (of one destination, or any; of one event, or any), oldest due first. */
  claim(destination: string | undefined, max: number, leaseMs: number, eventId?: string): Claim[] {
    const now = this.#now()
    this.#expireLeases(now)
    const claims: Claim[] = []
    const take = (entry: Entry) => {
      entry.token = crypto.randomUUID()
      entry.leaseUntil = now + leaseMs
      entry.version++ // its slot in the due heap is stale from now on
      this.#leases.push({ entry, version: entry.version, at: entry.leaseUntil })
      claims.push({
        ...entry.delivery,
        attempts: [...entry.delivery.attempts],
        token: entry.token,
        leaseUntil: entry.leaseUntil,
      })
    }
    const names = destination === undefined ? [...this.#due.keys()] : [destination]
    if (eventId !== undefined) {
      // One event's deliveries are looked up by key, not searched for in the heaps.
      for (const name of names) {
        const entry = this.#entries.get(key(eventId, name))
        if (claims.length < max && entry && entry.token === undefined && entry.delivery.nextAt <= now) take(entry)
      }
      this.#arm()
      return claims
    }
    for (const heap of names.map((name) => this.#due.get(name)).filter((h) => h !== undefined)) {
      while (claims.length < max && heap.size > 0 && heap.peek()!.at <= now) {
        const slot = heap.pop()!
        if (slot.version !== slot.entry.version) continue
        take(slot.entry)
      }
    }
    this.#arm()
    return claims
  }

  /** `Queue.claim`: claims what is due; when nothing is, waits up to `waitMs` for something to be, once. */
  async claimOrWait(options: ClaimOptions, closed: () => boolean): Promise<Claim[]> {
    const { destination, max, leaseMs, waitMs = 0, signal, eventId } = options
    const claims = this.claim(destination, max, leaseMs, eventId)
    if (claims.length > 0 || waitMs <= 0 || closed()) return claims
    await this.wait(destination, waitMs, signal)
    return this.claim(destination, max, leaseMs, eventId)
  }

  extend(claim: Claim, leaseMs: number): void {
    const entry = this.#entry(claim)
    entry.leaseUntil = this.#now() + leaseMs
    entry.version++
    this.#leases.push({ entry, version: entry.version, at: entry.leaseUntil })
    claim.leaseUntil = entry.leaseUntil
  }

  /** Ends a claim for good (acked, dead). */
  remove(claim: Claim): Delivery {
    const entry = this.#entry(claim)
    entry.version++
    this.#entries.delete(key(claim.eventId, claim.destination))
    return entry.delivery
  }

  /** Ends a claim; the delivery waits until `at`, with `attempt` added when there was one. */
  reschedule(claim: Claim, at: number, attempt?: Attempt): Delivery {
    const entry = this.#entry(claim)
    if (attempt) entry.delivery.attempts.push(attempt)
    entry.delivery.nextAt = at
    entry.token = undefined
    this.#wait(entry)
    return entry.delivery
  }

  /** Checks a claim is current without changing anything (before a durable write that must match it). */
  check(claim: Claim): void {
    this.#entry(claim)
  }

  /** Every delivery, claimed or not (for stats and compaction). */
  deliveries(): IterableIterator<Delivery> {
    return [...this.#entries.values()].map((entry) => entry.delivery)[Symbol.iterator]()
  }

  /** Resolves when a delivery (of `destination`, or any) may be due, after at most `waitMs`, or on `signal`. */
  wait(destination: string | undefined, waitMs: number, signal?: AbortSignal): Promise<void> {
    if (waitMs <= 0 || signal?.aborted) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const waiter: Waiter = {
        destination,
        wake: () => {
          clearTimeout(timer)
          signal?.removeEventListener('abort', waiter.wake)
          this.#waiters.delete(waiter)
          resolve()
        },
      }
      const timer = setTimeout(waiter.wake, waitMs)
      signal?.addEventListener('abort', waiter.wake, { once: true })
      this.#waiters.add(waiter)
      this.#arm()
    })
  }

  /** Stops the timer and lets every waiter go (closing). */
  close(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    for (const waiter of [...this.#waiters]) waiter.wake()
  }

  #entry(claim: Claim): Entry {
    const entry = this.#entries.get(key(claim.eventId, claim.destination))
    if (!entry || entry.token !== claim.token)
      throw new LeaseLostError(`claim of ${claim.eventId} for ${claim.destination} is not held any more`)
    return entry
  }

  #wait(entry: Entry): void {
    entry.version++
    const destination = entry.delivery.destination
    let heap = this.#due.get(destination)
    if (!heap)
      this.#due.set(
        destination,
        (heap = new MinHeap<Slot>(
          (slot) => slot.at,
          (slot) => slot.seq ?? 0,
        )),
      )
    // First come, first served: a delivery comes up in order of when it became due (its event's acceptance, or its
    // retry time), then of arrival. Ordered by retry time alone, every new delivery (nextAt 0) tied, the heap took
    // them in no order, and under sustained load old ones waited behind new ones, holding the spool's old segments.
    const { nextAt, since } = entry.delivery
    heap.push({ entry, version: entry.version, at: Math.max(nextAt, Math.min(since, this.#now())), seq: ++this.#seq })
    if (entry.delivery.nextAt <= this.#now()) this.#wake(destination)
    else this.#arm()
  }

  /** Leases that ran out: their deliveries wait again (their holder died or hung). */
  #expireLeases(now: number): void {
    while (this.#leases.size > 0 && this.#leases.peek()!.at <= now) {
      const slot = this.#leases.pop()!
      if (slot.version !== slot.entry.version || slot.entry.token === undefined) continue
      slot.entry.token = undefined
      this.#wait(slot.entry)
    }
  }

  #wake(destination: string): void {
    for (const waiter of [...this.#waiters])
      if (waiter.destination === undefined || waiter.destination === destination) waiter.wake()
  }

  /** One timer for the earliest moment something becomes due (a retry time, a lease running out) while anyone waits. */
  #arm(): void {
    if (this.#waiters.size === 0) return
    let next = Infinity
    for (const [destination, heap] of this.#due) {
      if (heap.size === 0) continue
      if ([...this.#waiters].some((w) => w.destination === undefined || w.destination === destination))
        next = Math.min(next, heap.peek()!.at)
    }
    if (this.#leases.size > 0) next = Math.min(next, this.#leases.peek()!.at)
    if (next === Infinity || next >= this.#timerAt) return
    clearTimeout(this.#timer)
    this.#timerAt = next
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined
        this.#timerAt = Infinity
        const now = this.#now()
        this.#expireLeases(now)
        for (const [destination, heap] of this.#due)
          if (heap.size > 0 && heap.peek()!.at <= now) this.#wake(destination)
        this.#arm()
      },
      Math.max(0, next - this.#now()),
    )
    ;(this.#timer as { unref?: () => void }).unref?.()
  }
}

function key(eventId: string, destination: string): string {
  return `${eventId}\u0000${destination}`
}
