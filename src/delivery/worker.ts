/**
 * The worker: one lane per destination, each with its own concurrency limit and circuit, claiming its deliveries
 * from the queue and making each with `deliverOne`. A slow or failing destination never delays the others. Any
 * number of workers (processes, instances) may claim from one queue.
 * @module
 */
import type { Destination } from '../destinations/types.ts'
import type { Logger } from '../log.ts'
import type { Claim, Queue } from '../queue/types.ts'
import { createCircuit, type Circuit, type CircuitState } from './circuit.ts'
import { deliverOne, errorMessage, type DeliveryPolicy, type OutcomeReport } from './deliver-one.ts'

export interface LaneStatus {
  destination: string
  kind: Destination['kind'] | 'missing'
  inFlight: number
  circuit: CircuitState
}

export interface Worker {
  lanes(): LaneStatus[]
  /** Stops claiming, waits up to `graceMs` for deliveries under way, then aborts them (they stay pending). */
  close(graceMs: number): Promise<void>
}

export interface WorkerOptions {
  queue: Queue
  destinations: ReadonlyMap<string, Destination>
  policyFor(destination: string): DeliveryPolicy
  log: Logger
  onOutcome?: (report: OutcomeReport) => void
  onQueueError?: (step: 'load' | 'record' | 'claim') => void
  now?: () => number
  random?: () => number
}

interface Lane {
  name: string
  destination: Destination | undefined
  policy: DeliveryPolicy
  circuit: Circuit
  inFlight: Set<Promise<void>>
  /** Resolved (and replaced) whenever a delivery of the lane ends. */
  settled: { promise: Promise<void>; resolve: () => void }
}

/** How long an idle claim waits for work before asking again. */
const IDLE_WAIT_MS = 5_000
/** Destinations pending in the queue but not configured are looked for this often (their deliveries go dead). */
const ORPHAN_CHECK_MS = 30_000

export function startWorker(options: WorkerOptions): Worker {
  const { queue, log } = options
  const now = options.now ?? Date.now
  const lanes = new Map<string, Lane>()
  const stop = new AbortController() // ends claims waiting for work
  const abandon = new AbortController() // aborts deliveries under way after the grace time
  const loops: Promise<void>[] = []

  function open(name: string): void {
    if (lanes.has(name)) return
    const policy = options.policyFor(name)
    const lane: Lane = {
      name, destination: options.destinations.get(name), policy, circuit: createCircuit(policy.circuit),
      inFlight: new Set(), settled: deferred(),
    }
    lanes.set(name, lane)
    loops.push(loop(lane).catch((error) => log.error('delivery lane stopped; this is a bug', { destination: name, error: errorMessage(error) })))
  }

  async function loop(lane: Lane): Promise<void> {
    // A claim holds a delivery for longer than an attempt may take, so a lease only runs out when its holder died.
    const leaseMs = lane.policy.timeoutMs * 2 + 30_000
    while (!stop.signal.aborted) {
      if (lane.inFlight.size >= lane.policy.concurrency) {
        await settledOrSleep(lane.settled.promise, IDLE_WAIT_MS, stop.signal)
        continue
      }
      if (!lane.circuit.tryPass(now())) {
        // Open: wait for the probe time. Half-open: wait for the probe's outcome.
        const until = lane.circuit.state() === 'open' ? lane.circuit.reopensAt() : Infinity
        await settledOrSleep(lane.settled.promise, Math.max(10, Math.min(until - now(), IDLE_WAIT_MS)), stop.signal)
        continue
      }
      const probe = lane.circuit.state() === 'half-open'
      let claims: Claim[]
      try {
        claims = await queue.claim({
          destination: lane.name, max: probe ? 1 : lane.policy.concurrency - lane.inFlight.size, leaseMs, waitMs: IDLE_WAIT_MS, signal: stop.signal,
        })
      } catch (error) {
        log.error('cannot claim deliveries from the queue; trying again', { destination: lane.name, error: errorMessage(error) })
        options.onQueueError?.('claim')
        claims = []
        await sleep(1_000, stop.signal)
      }
      if (claims.length === 0 && probe) lane.circuit.release(now())
      claims.forEach((claim, index) => run(lane, claim, probe && index === 0))
    }
  }

  function run(lane: Lane, claim: Claim, probe: boolean): void {
    const attempt = deliverOne(claim, {
      queue, destination: lane.destination, policy: lane.policy, log, signal: abandon.signal,
      ...(options.onOutcome ? { onOutcome: options.onOutcome } : {}),
      ...(options.onQueueError ? { onQueueError: options.onQueueError } : {}),
      now, ...(options.random ? { random: options.random } : {}),
    }).then((verdict) => {
      if (verdict === 'up') lane.circuit.success()
      else if (verdict === 'down') lane.circuit.failure(now())
      else if (probe) lane.circuit.release(now()) // every outcome of a probe moves the circuit on
    }, (error: unknown) => {
      log.error('delivery failed unexpectedly; this is a bug', { destination: lane.name, id: claim.eventId, error: errorMessage(error) })
      if (probe) lane.circuit.release(now())
    }).finally(() => {
      lane.inFlight.delete(attempt)
      const { resolve } = lane.settled
      lane.settled = deferred()
      resolve()
    })
    lane.inFlight.add(attempt)
  }

  for (const name of options.destinations.keys()) open(name)
  // Deliveries for a destination no longer in the config still get a lane, which dead-letters them.
  const findOrphans = () => queue.stats().then(
    (stats) => { for (const name of Object.keys(stats.destinations)) open(name) },
    (error) => log.warn('cannot read queue stats', { error: errorMessage(error) }),
  )
  void findOrphans()
  const orphanTimer = setInterval(() => void findOrphans(), ORPHAN_CHECK_MS)
  ;(orphanTimer as { unref?: () => void }).unref?.()

  return {
    lanes: () => [...lanes.values()].map((lane) => ({
      destination: lane.name,
      kind: lane.destination?.kind ?? 'missing',
      inFlight: lane.inFlight.size,
      circuit: lane.circuit.state(),
    })),
    async close(graceMs) {
      clearInterval(orphanTimer)
      stop.abort()
      await Promise.all(loops)
      const underWay = () => [...lanes.values()].flatMap((lane) => [...lane.inFlight])
      if (underWay().length > 0) await Promise.race([Promise.all(underWay()), sleep(graceMs)])
      if (underWay().length > 0) {
        log.warn('abandoning deliveries still under way; they stay in the queue', { count: underWay().length })
        abandon.abort(new Error('shutting down'))
        await Promise.race([Promise.all(underWay()), sleep(1_000)])
      }
    },
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((r) => { resolve = r })
  return { promise, resolve }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return settledOrSleep(undefined, ms, signal)
}

/**
 * Waits for `settled`, `ms` or `signal`, whichever comes first, and leaves no timer or listener behind (this runs
 * once per delivery: a leftover per call would pile up thousands).
 */
function settledOrSleep(settled: Promise<void> | undefined, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    let finished = false
    const timer = setTimeout(done, ms)
    function done() {
      if (finished) return
      finished = true
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
    settled?.then(done, done)
  })
}
