/**
 * Delivers pending deliveries: one lane per destination, each with its own concurrency limit and circuit, so a
 * slow or failing destination never delays the others. Failed attempts wait in one heap for their retry time.
 * @module
 */
import { DeliveryDeferred, type Destination } from '../destinations/types.ts'
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
      void run(lane, lane.ready.shift()!)
      if (lane.circuit.state() === 'half-open') return // one probe at a time
    }
  }

  async function run(lane: Lane, delivery: PendingDelivery): Promise<void> {
    const controller = new AbortController()
    lane.inFlight.add(controller)
    const started = now()
    const timeout = setTimeout(() => controller.abort(new Error(`timed out after ${lane.policy.timeoutMs} ms`)), lane.policy.timeoutMs)
    const report = (outcome: Outcome, error?: string) => {
      const fields = { destination: lane.name, id: delivery.eventId, attempt: delivery.attempts.length + (outcome === 'delivered' ? 1 : 0), ms: now() - started }
      options.onOutcome?.({
        destination: lane.name, eventId: delivery.eventId, outcome, attempt: fields.attempt, ms: fields.ms,
        ...(error ? { error } : {}), ...(outcome === 'retry' ? { nextAt: delivery.nextAt } : {}),
      })
      if (outcome === 'delivered') log.info('delivered', fields)
      else if (outcome === 'retry') log.warn('delivery failed; will retry', { ...fields, error, nextAt: new Date(delivery.nextAt).toISOString() })
      else log.error('delivery failed; moved to dead letters', { ...fields, error })
    }
    try {
      if (!lane.destination) throw new Error(`destination "${lane.name}" is not configured any more`)
      const event = await store.load(delivery.eventId)
      await abortable(lane.destination.deliver(event, controller.signal), controller.signal)
      lane.circuit.success()
      await store.delivered(delivery)
      report('delivered')
    } catch (error) {
      if (controller.signal.reason instanceof ShutdownAbort) return // not an attempt: stays pending as it was
      if (error instanceof DeliveryDeferred) return defer(lane, delivery, error)
      const message = errorMessage(error)
      delivery.attempts.push({ at: now(), error: message })
      const verdict = lane.destination
        ? nextAttempt(lane.policy.retry, error, delivery.attempts.length, delivery.since, now(), options.random)
        : { retry: false as const, reason: 'not configured' }
      try {
        if (verdict.retry) {
          lane.circuit.failure(now())
          delivery.nextAt = verdict.at
          await store.failed(delivery)
          report('retry', message)
          schedule(delivery)
        } else {
          await store.dead(delivery)
          report('dead', `${message} (${verdict.reason})`)
        }
      } catch (storeError) {
        // The outcome could not be recorded; try the delivery again later rather than lose it.
        log.error('cannot record a delivery outcome; retrying later', { destination: lane.name, id: delivery.eventId, error: errorMessage(storeError) })
        delivery.nextAt = now() + 5_000
        schedule(delivery)
      }
    } finally {
      clearTimeout(timeout)
      lane.inFlight.delete(controller)
      if (closing && idle && [...lanes.values()].every((l) => l.inFlight.size === 0)) idle()
      pump(lane)
    }
  }

  /** The destination asked to be asked again later: no attempt is counted and the circuit is left alone. */
  async function defer(lane: Lane, delivery: PendingDelivery, deferral: DeliveryDeferred): Promise<void> {
    delivery.nextAt = Math.max(deferral.until, now() + 10)
    await store.failed(delivery, false).catch((error) => log.error('cannot record a deferral', { destination: lane.name, error: errorMessage(error) }))
    log.debug('delivery deferred', { destination: lane.name, id: delivery.eventId, reason: deferral.message, until: new Date(delivery.nextAt).toISOString() })
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
