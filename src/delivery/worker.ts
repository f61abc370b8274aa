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
import { attemptDeadlines } from './attempt-deadlines.ts'
import { sleep } from '../util/sleep.ts'

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
  /** Body bytes one lane's deliveries may hold at once (default 64 MiB). */
  laneBodyBytes?: number
}

interface Lane {
  name: string
  destination: Destination | undefined
  policy: DeliveryPolicy
  circuit: Circuit
  inFlight: Set<Promise<void>>
  /** Body bytes its deliveries under way hold, and the mean size of the bodies it delivered lately. */
  bytes: number
  meanBytes: number
  /** Resolved (and replaced) whenever a delivery of the lane ends, or the lane's first tells its body size. */
  settled: { promise: Promise<void>; resolve: () => void }
}

/**
 * Body bytes one lane's deliveries may hold at once, by default: as many 1 MB thumbnails as the fs sink's
 * concurrency, but only four 16 MB bodies, so large bodies do not multiply the memory a busy gateway holds. (Half
 * of it made a gateway taking 1 MB thumbnails fall behind until its spool was full.)
 */
const LANE_BODY_BYTES = 64 * 1024 * 1024

/** How long an idle claim waits for work before asking again. */
const IDLE_WAIT_MS = 5_000
/** Destinations pending in the queue but not configured are looked for this often (their deliveries go dead). */
const ORPHAN_CHECK_MS = 30_000

export function startWorker(options: WorkerOptions): Worker {
  const { queue, log } = options
  const laneBodyBytes = options.laneBodyBytes ?? LANE_BODY_BYTES
  const now = options.now ?? Date.now
  const lanes = new Map<string, Lane>()
  const stop = new AbortController() // ends claims waiting for work
  const abandon = new AbortController() // aborts deliveries under way after the grace time
  // Attempts started close together share a deadline signal, which listens for `abandon` (attempt-deadlines.ts).
  const deadlines = attemptDeadlines(abandon.signal)
  const loops: Promise<void>[] = []

  function open(name: string): void {
    if (lanes.has(name)) return
    const policy = options.policyFor(name)
    const lane: Lane = {
      name,
      destination: options.destinations.get(name),
      policy,
      circuit: createCircuit(policy.circuit),
      inFlight: new Set(),
      bytes: 0,
      meanBytes: 0,
      settled: deferred(),
    }
    lanes.set(name, lane)
    loops.push(
      loop(lane).catch((error) =>
        log.error('delivery lane stopped; this is a bug', { destination: name, error: errorMessage(error) }),
      ),
    )
  }

  async function loop(lane: Lane): Promise<void> {
    // A claim holds a delivery for longer than an attempt may take, so a lease only runs out when its holder died.
    const leaseMs = lane.policy.timeoutMs * 2 + 30_000
    while (!stop.signal.aborted) {
      // Full by count or by bytes; or the lane's first delivery is under way and the size of its bodies unknown yet.
      if (
        lane.inFlight.size >= lane.policy.concurrency ||
        lane.bytes >= laneBodyBytes ||
        (lane.meanBytes === 0 && lane.inFlight.size > 0)
      ) {
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
          destination: lane.name,
          max: probe ? 1 : room(lane),
          leaseMs,
          waitMs: IDLE_WAIT_MS,
          signal: stop.signal,
        })
      } catch (error) {
        log.error('cannot claim deliveries from the queue; trying again', {
          destination: lane.name,
          error: errorMessage(error),
        })
        options.onQueueError?.('claim')
        claims = []
        await sleep(1_000, stop.signal)
      }
      if (claims.length === 0 && probe) lane.circuit.release(now())
      for (const [index, claim] of claims.entries()) run(lane, claim, probe && index === 0)
    }
  }

  /** How many more to claim: what the concurrency leaves, and what the byte budget leaves at the lane's mean size. */
  function room(lane: Lane): number {
    const byCount = lane.policy.concurrency - lane.inFlight.size
    if (lane.meanBytes === 0) return 1
    return Math.max(1, Math.min(byCount, Math.floor((laneBodyBytes - lane.bytes) / lane.meanBytes)))
  }

  function run(lane: Lane, claim: Claim, probe: boolean): void {
    // Counted at the lane's mean size until its body is loaded, so claims in a row do not overshoot the budget.
    let held = lane.meanBytes
    lane.bytes += held
    const attempt = deliverOne(claim, {
      queue,
      destination: lane.destination,
      policy: lane.policy,
      log,
      signal: abandon.signal,
      deadlines,
      ...(options.onOutcome ? { onOutcome: options.onOutcome } : {}),
      ...(options.onQueueError ? { onQueueError: options.onQueueError } : {}),
      onLoaded(bytes) {
        lane.bytes += bytes - held
        held = bytes
        const first = lane.meanBytes === 0
        lane.meanBytes = Math.max(1, first ? bytes : lane.meanBytes * 0.9 + bytes * 0.1)
        if (first) wake(lane) // the size is known: the lane may claim more
      },
      now,
      ...(options.random ? { random: options.random } : {}),
    })
      .then(
        (verdict) => {
          if (verdict === 'up') lane.circuit.success()
          else if (verdict === 'down') lane.circuit.failure(now())
          else if (probe) lane.circuit.release(now()) // every outcome of a probe moves the circuit on
        },
        (error: unknown) => {
          log.error('delivery failed unexpectedly; this is a bug', {
            destination: lane.name,
            id: claim.eventId,
            error: errorMessage(error),
          })
          if (probe) lane.circuit.release(now())
        },
      )
      .finally(() => {
        lane.bytes -= held
        lane.inFlight.delete(attempt)
        wake(lane)
      })
    lane.inFlight.add(attempt)
  }

  for (const name of options.destinations.keys()) open(name)
  // Deliveries for a destination no longer in the config still get a lane, which dead-letters them.
  const findOrphans = () =>
    queue.stats().then(
      (stats) => {
        for (const name of Object.keys(stats.destinations)) open(name)
      },
      (error) => log.warn('cannot read queue stats', { error: errorMessage(error) }),
    )
  void findOrphans()
  const orphanTimer = setInterval(() => void findOrphans(), ORPHAN_CHECK_MS)
  ;(orphanTimer as { unref?: () => void }).unref?.()

  return {
    lanes: () =>
      [...lanes.values()].map((lane) => ({
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

/** Wakes the lane's loop (a delivery ended, or told its size). */
function wake(lane: Lane): void {
  const { resolve } = lane.settled
  lane.settled = deferred()
  resolve()
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((r) => {
    resolve = r
  })
  return { promise, resolve }
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
