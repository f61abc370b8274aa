/**
 * Delivers pending deliveries: one lane per destination, each with its own concurrency limit and circuit, so a
 * slow or failing destination never delays the others. Failed attempts wait in one heap for their retry time.
 * @module
 */
import { DeliveryDeferred, DeliveryError, type Destination } from '../destinations/types.ts'
import type { PendingDelivery, SpoolStore } from '../spool/types.ts'
import type { Logger } from '../log.ts'
import { nextAttempt, type RetryPolicy } from './retry.ts'
import { createCircuit, type Circuit, type CircuitPolicy, type CircuitState } from './circuit.ts'
import { MinHeap } from './heap.ts'

export interface DeliveryPolicy {
  concurrency: number
  timeoutMs: number
  retry: RetryPolicy
  circuit: CircuitPolicy
}

export type Outcome = 'delivered' | 'retry' | 'dead'

export interface OutcomeReport {
  destination: string
  eventId: string
  outcome: Outcome
  attempt: number
  ms: number
  error?: string
  /** For `retry`: when the next attempt is due, epoch ms. */
  nextAt?: number
}

export interface LaneStatus {
  destination: string
  kind: Destination['kind'] | 'missing'
  ready: number
  waiting: number
  inFlight: number
  circuit: CircuitState
}

export interface Deliverer {
  schedule(deliveries: readonly PendingDelivery[]): void
  lanes(): LaneStatus[]
  /** Stops starting deliveries, waits up to `graceMs` for those under way, then abandons them (they stay pending). */
  close(graceMs: number): Promise<void>
}

export interface DelivererOptions {
  store: SpoolStore
  destinations: ReadonlyMap<string, Destination>
  policyFor(destination: string): DeliveryPolicy
  log: Logger
  onOutcome?: (report: OutcomeReport) => void
  /** Told when the spool failed under a delivery (load, record): counted apart from the destination's failures. */
  onSpoolError?: (step: 'load' | 'record' | 'deliver') => void
  now?: () => number
  random?: () => number
}

interface Lane {
  name: string
  destination: Destination | undefined
  policy: DeliveryPolicy
  circuit: Circuit
  ready: Queue<PendingDelivery>
  waiting: number
  inFlight: Set<AbortController>
  probeTimer: ReturnType<typeof setTimeout> | undefined
}

class ShutdownAbort extends Error {
  override name = 'ShutdownAbort'
}

/** What one attempt showed about its destination, for the circuit: it answered, it failed, or nothing. */
type ProbeVerdict = 'up' | 'down' | 'none'

export function createDeliverer(options: DelivererOptions): Deliverer {
  const { store, log } = options
  const now = options.now ?? Date.now
  const lanes = new Map<string, Lane>()
  const waiting = new MinHeap<PendingDelivery>((d) => d.nextAt)
  let timer: ReturnType<typeof setTimeout> | undefined
  let timerAt = Infinity
  let closing = false
  let idle: (() => void) | undefined

  function laneOf(name: string): Lane {
    let lane = lanes.get(name)
    if (!lane) {
      const policy = options.policyFor(name)
      lane = {
        name, destination: options.destinations.get(name), policy, circuit: createCircuit(policy.circuit),
        ready: new Queue(), waiting: 0, inFlight: new Set(), probeTimer: undefined,
      }
      lanes.set(name, lane)
    }
    return lane
  }

  function schedule(delivery: PendingDelivery): void {
    const lane = laneOf(delivery.destination)
    if (delivery.nextAt <= now()) {
      lane.ready.push(delivery)
      pump(lane)
    } else {
      lane.waiting++
      waiting.push(delivery)
      armTimer()
    }
  }

  function armTimer(): void {
    const next = waiting.peek()
    if (!next || closing || next.nextAt >= timerAt) return
    if (timer) clearTimeout(timer)
    timerAt = next.nextAt
    timer = setTimeout(releaseDue, Math.max(0, next.nextAt - now()))
  }

  function releaseDue(): void {
    timer = undefined
    timerAt = Infinity
    const touched = new Set<Lane>()
    while (waiting.size > 0 && waiting.peek()!.nextAt <= now()) {
      const delivery = waiting.pop()!
      const lane = laneOf(delivery.destination)
      lane.waiting--
      lane.ready.push(delivery)
      touched.add(lane)
    }
    for (const lane of touched) pump(lane)
    armTimer()
  }

  function pump(lane: Lane): void {
    while (!closing && lane.ready.length > 0 && lane.inFlight.size < lane.policy.concurrency) {
      if (!lane.circuit.tryPass(now())) {
        if (lane.circuit.state() === 'open' && !lane.probeTimer) {
          lane.probeTimer = setTimeout(() => {
            lane.probeTimer = undefined
            pump(lane)
          }, Math.max(0, lane.circuit.reopensAt() - now()))
        }
        return
      }
      const probe = lane.circuit.state() === 'half-open'
      void run(lane, lane.ready.shift()!, probe)
      if (probe) return // one probe at a time
    }
  }

  /**
   * One attempt. Three kinds of failure are kept apart, because their consequences differ: the destination failed
   * (an attempt: retry or dead letter, and the circuit hears of it), hookcast's own code failed on this event (a
   * poison event: dead letter at once, the circuit is not the destination's fault), and the spool could not load the
   * event or record the outcome (not an attempt at all: the spool is retried, the destination is left alone).
   */
  async function run(lane: Lane, delivery: PendingDelivery, probe: boolean): Promise<void> {
    const controller = new AbortController()
    lane.inFlight.add(controller)
    const started = now()
    const timeout = setTimeout(() => controller.abort(new Error(`timed out after ${lane.policy.timeoutMs} ms`)), lane.policy.timeoutMs)
    let verdict: ProbeVerdict = 'none'
    try {
      verdict = await attempt(lane, delivery, controller.signal, started)
    } catch (error) {
      // A bug of our own between the steps above: never let it reject into the void; try again later.
      log.error('delivery step failed; retrying later', { destination: lane.name, id: delivery.eventId, error: errorMessage(error) })
      options.onSpoolError?.('deliver')
      later(delivery)
    } finally {
      clearTimeout(timeout)
      lane.inFlight.delete(controller)
      // Every outcome of a probe moves the circuit on; otherwise the lane would wait for a verdict forever.
      if (probe) {
        if (verdict === 'up') lane.circuit.success()
        else if (verdict === 'down') lane.circuit.failure(now())
        else lane.circuit.release(now())
      }
      if (closing && idle && [...lanes.values()].every((l) => l.inFlight.size === 0)) idle()
      pump(lane)
    }
  }

  /** Loads, delivers and records one delivery; says what it showed about the destination. */
  async function attempt(lane: Lane, delivery: PendingDelivery, signal: AbortSignal, started: number): Promise<ProbeVerdict> {
    const report = (outcome: Outcome, error?: string) => {
      const fields = { destination: lane.name, id: delivery.eventId, attempt: delivery.attempts.length + (outcome === 'delivered' ? 1 : 0), ms: now() - started }
      try {
        options.onOutcome?.({
          destination: lane.name, eventId: delivery.eventId, outcome, attempt: fields.attempt, ms: fields.ms,
          ...(error ? { error } : {}), ...(outcome === 'retry' ? { nextAt: delivery.nextAt } : {}),
        })
      } catch (listenerError) {
        log.error('outcome listener failed', { error: errorMessage(listenerError) }) // the outcome itself is recorded
      }
      if (outcome === 'delivered') log.info('delivered', fields)
      else if (outcome === 'retry') log.warn('delivery failed; will retry', { ...fields, error, nextAt: new Date(delivery.nextAt).toISOString() })
      else log.error('delivery failed; moved to dead letters', { ...fields, error })
    }

    let event
    if (lane.destination) {
      try {
        event = await store.load(delivery.eventId, delivery.destination)
      } catch (error) {
        log.error('cannot read an event from the spool; retrying later', { destination: lane.name, id: delivery.eventId, error: errorMessage(error) })
        options.onSpoolError?.('load')
        later(delivery)
        return 'none'
      }
    }

    let failure: unknown
    let ok = false
    try {
      if (!lane.destination || !event) throw new DeliveryError(`destination "${lane.name}" is not configured any more`, { permanent: true })
      await abortable(lane.destination.deliver(event, signal), signal)
      ok = true
    } catch (error) {
      failure = error
    }

    if (ok) {
      lane.circuit.success()
      await record(lane, delivery, 'delivered', () => store.delivered(delivery))
      report('delivered')
      return 'up'
    }
    if (signal.reason instanceof ShutdownAbort) return 'none' // not an attempt: stays pending as it was
    if (failure instanceof DeliveryDeferred) {
      delivery.nextAt = Math.max(failure.until, now() + 10)
      await record(lane, delivery, 'deferral', () => store.failed(delivery, false))
      log.debug('delivery deferred', { destination: lane.name, id: delivery.eventId, reason: failure.message, until: new Date(delivery.nextAt).toISOString() })
      schedule(delivery)
      return 'none'
    }

    const message = errorMessage(failure)
    delivery.attempts.push({ at: now(), error: message })
    const poison = isOwnFailure(failure)
    const verdict = poison
      ? { retry: false as const, reason: 'hookcast cannot process this event' }
      : nextAttempt(lane.policy.retry, failure, delivery.attempts.length, delivery.since, now(), options.random)
    if (verdict.retry) {
      lane.circuit.failure(now())
      delivery.nextAt = verdict.at
      await record(lane, delivery, 'retry', () => store.failed(delivery))
      report('retry', message)
      schedule(delivery)
      return 'down'
    }
    await record(lane, delivery, 'dead letter', () => store.dead(delivery))
    report('dead', `${message} (${verdict.reason})`)
    if (poison) return 'none'
    // A permanent error is an answer: the destination is up, it refused this one. Max age is a destination down.
    return failure instanceof DeliveryError && failure.permanent ? 'up' : 'down'
  }

  /**
   * Records an outcome in the spool. When the spool fails (disk full, I/O error) the destination is not blamed:
   * the record is tried again until it sticks, and if the process dies first the delivery is simply made again.
   */
  async function record(lane: Lane, delivery: PendingDelivery, what: string, write: () => Promise<void>): Promise<void> {
    for (let wait = 1_000; ; wait = Math.min(wait * 2, 30_000)) {
      try {
        await write()
        return
      } catch (error) {
        log.error(`cannot record a ${what} in the spool; trying again`, { destination: lane.name, id: delivery.eventId, error: errorMessage(error) })
        options.onSpoolError?.('record')
        if (closing) return // it stays pending as the spool last knew it
        await new Promise((resolve) => setTimeout(resolve, wait))
      }
    }
  }

  /** Tries a delivery again after a spool failure, without counting an attempt. */
  function later(delivery: PendingDelivery): void {
    delivery.nextAt = now() + 5_000
    schedule(delivery)
  }

  return {
    schedule(deliveries) {
      for (const delivery of deliveries) schedule(delivery)
    },
    lanes: () => [...lanes.values()].map((lane) => ({
      destination: lane.name,
      kind: lane.destination?.kind ?? 'missing',
      ready: lane.ready.length,
      waiting: lane.waiting,
      inFlight: lane.inFlight.size,
      circuit: lane.circuit.state(),
    })),
    async close(graceMs) {
      closing = true
      if (timer) clearTimeout(timer)
      for (const lane of lanes.values()) if (lane.probeTimer) clearTimeout(lane.probeTimer)
      const busy = () => [...lanes.values()].some((lane) => lane.inFlight.size > 0)
      if (busy()) {
        await new Promise<void>((resolve) => {
          idle = resolve
          setTimeout(resolve, graceMs)
        })
      }
      if (busy()) {
        log.warn('abandoning deliveries still under way; they stay in the spool', {
          count: [...lanes.values()].reduce((n, lane) => n + lane.inFlight.size, 0),
        })
        for (const lane of lanes.values()) for (const controller of lane.inFlight) controller.abort(new ShutdownAbort('shutting down'))
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    },
  }
}

/** Rejects when `signal` aborts, even if the destination ignores the signal. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

/**
 * A failure of hookcast's own code on this event (a poison event) rather than of the destination: JavaScript's
 * errors for impossible work — a stack overflow on absurd nesting, an invalid date, a bad array length, a syntax
 * error — fail the same way every time, so retrying only starves the events behind it. Network errors are
 * TypeErrors on some runtimes (`fetch failed`), so TypeErrors are left transient.
 */
function isOwnFailure(error: unknown): boolean {
  return error instanceof RangeError || error instanceof SyntaxError || error instanceof ReferenceError || error instanceof URIError
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : ''
    return `${error.message}${cause}`.slice(0, 500)
  }
  return String(error).slice(0, 500)
}

/** A FIFO queue with O(1) shift (an array with a moving head, compacted now and then). */
class Queue<T> {
  #items: T[] = []
  #head = 0

  get length(): number {
    return this.#items.length - this.#head
  }

  push(item: T): void {
    this.#items.push(item)
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined
    const item = this.#items[this.#head++]
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
    return item
  }
}
