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
import { errorMessage, type DeliveryPolicy, type OutcomeReport } from './deliver-one.ts'
import { attemptDeadlines, type AttemptDeadlines } from './attempt-deadlines.ts'
import { deliverInLane } from './lane-delivery.ts'
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
  inFlight: Set<Promise<unknown>>
  /** Body bytes its deliveries under way hold, and the mean size of the bodies it delivered lately. */
  bytes: number
  meanBytes: number
  /** Resolved (and replaced) whenever a delivery of the lane ends, or the lane's first tells its body size. */
  settled: { promise: Promise<void>; resolve: () => void }
}

/**
 * Body bytes one lane's deliveries may hold at once, by default: as many 1 MB thumbnails as the fs sink's
 * concurrency, but only four 16 MB bodies, so large bodies do not multiply the memory a busy gateway holds. (Half
 * of it made a gateway taking 1 MB thumbnails fall behind until its queue was full.)
 */
const LANE_BODY_BYTES = 64 * 1024 * 1024

/** How long an idle claim waits for work before asking again. */
const IDLE_WAIT_MS = 5_000
/** Destinations pending in the queue but not configured are looked for this often (their deliveries go dead). */
const ORPHAN_CHECK_MS = 30_000

/** What the worker's steps share. */
interface WorkerContext {
  options: WorkerOptions
  queue: Queue
  log: Logger
  now: () => number
  laneBodyBytes: number
  lanes: Map<string, Lane>
  /** Ends claims waiting for work. */
  stop: AbortController
  /** Aborts deliveries under way after the grace time. */
  abandon: AbortController
  /** Attempts started close together share a deadline signal, which listens for `abandon`. */
  deadlines: AttemptDeadlines
  /** Each lane's claiming loop. */
  loops: Promise<void>[]
}

export function startWorker(options: WorkerOptions): Worker {
  const abandon = new AbortController()
  const ctx: WorkerContext = {
    options,
    queue: options.queue,
    log: options.log,
    now: options.now ?? Date.now,
    laneBodyBytes: options.laneBodyBytes ?? LANE_BODY_BYTES,
    lanes: new Map(),
    stop: new AbortController(),
    abandon,
    deadlines: attemptDeadlines(abandon.signal),
    loops: [],
  }
  for (const name of options.destinations.keys()) openLane(ctx, name)
  void findOrphans(ctx)
  const orphanTimer = setInterval(() => void findOrphans(ctx), ORPHAN_CHECK_MS)
  ;(orphanTimer as { unref?: () => void }).unref?.()

  return {
    lanes: () =>
      [...ctx.lanes.values()].map((lane) => ({
        destination: lane.name,
        kind: lane.destination?.kind ?? 'missing',
        inFlight: lane.inFlight.size,
        circuit: lane.circuit.state(),
      })),
    async close(graceMs) {
      clearInterval(orphanTimer)
      await closeWorker(ctx, graceMs)
    },
  }
}

function openLane(ctx: WorkerContext, name: string): void {
  if (ctx.lanes.has(name)) return
  const policy = ctx.options.policyFor(name)
  const lane: Lane = {
    name,
    destination: ctx.options.destinations.get(name),
    policy,
    circuit: createCircuit(policy.circuit),
    inFlight: new Set(),
    bytes: 0,
    meanBytes: 0,
    settled: deferred(),
  }
  ctx.lanes.set(name, lane)
  ctx.loops.push(
    laneLoop(ctx, lane).catch((error) =>
      ctx.log.error('delivery lane stopped; this is a bug', { destination: name, error: errorMessage(error) }),
    ),
  )
}

/** Deliveries for a destination no longer in the config still get a lane, which dead-letters them. */
function findOrphans(ctx: WorkerContext): Promise<void> {
  return ctx.queue.stats().then(
    (stats) => {
      for (const name of Object.keys(stats.destinations)) openLane(ctx, name)
    },
    (error) => ctx.log.warn('cannot read queue stats', { error: errorMessage(error) }),
  )
}

/** Claims the lane's deliveries and starts them, as room and the circuit allow, until the worker stops. */
async function laneLoop(ctx: WorkerContext, lane: Lane): Promise<void> {
  const { stop, now } = ctx
  while (!stop.signal.aborted) {
    // Full by count or by bytes; or the lane's first delivery is under way and the size of its bodies unknown yet.
    if (
      lane.inFlight.size >= lane.policy.concurrency ||
      lane.bytes >= ctx.laneBodyBytes ||
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
    const claims = await claimFor(ctx, lane, probe)
    if (claims.length === 0 && probe) lane.circuit.release(now())
    for (const [index, claim] of claims.entries()) startDelivery(ctx, lane, claim, probe && index === 0)
  }
}

/** The lane's next claims (one for a probe); none when the queue failed, after a pause. */
async function claimFor(ctx: WorkerContext, lane: Lane, probe: boolean): Promise<Claim[]> {
  try {
    return await ctx.queue.claim({
      destination: lane.name,
      max: probe ? 1 : room(lane, ctx.laneBodyBytes),
      // A claim holds a delivery for longer than an attempt may take, so a lease only runs out when its holder died.
      leaseMs: lane.policy.timeoutMs * 2 + 30_000,
      waitMs: IDLE_WAIT_MS,
      signal: ctx.stop.signal,
    })
  } catch (error) {
    ctx.log.error('cannot claim deliveries from the queue; trying again', {
      destination: lane.name,
      error: errorMessage(error),
    })
    ctx.options.onQueueError?.('claim')
    await sleep(1_000, ctx.stop.signal)
    return []
  }
}

/**
 * How many more to claim: what the concurrency leaves, and what the byte budget leaves at the lane's mean size;
 * one while the size of its bodies is unknown.
 */
export function room(lane: Pick<Lane, 'policy' | 'inFlight' | 'bytes' | 'meanBytes'>, laneBodyBytes: number): number {
  const byCount = lane.policy.concurrency - lane.inFlight.size
  if (lane.meanBytes === 0) return 1
  return Math.max(1, Math.min(byCount, Math.floor((laneBodyBytes - lane.bytes) / lane.meanBytes)))
}

/** Starts one delivery of the lane; its body's bytes count against the lane's budget until it ends. */
function startDelivery(ctx: WorkerContext, lane: Lane, claim: Claim, probe: boolean): void {
  const { options } = ctx
  // Counted at the lane's mean size until its body is loaded, so claims in a row do not overshoot the budget.
  let held = lane.meanBytes
  lane.bytes += held
  const delivery = deliverInLane(claim, lane, probe, {
    queue: ctx.queue,
    destination: lane.destination,
    policy: lane.policy,
    log: ctx.log,
    signal: ctx.abandon.signal,
    deadlines: ctx.deadlines,
    ...(options.onOutcome ? { onOutcome: options.onOutcome } : {}),
    ...(options.onQueueError ? { onQueueError: options.onQueueError } : {}),
    onLoaded(bytes) {
      lane.bytes += bytes - held
      held = bytes
      const first = lane.meanBytes === 0
      lane.meanBytes = Math.max(1, first ? bytes : lane.meanBytes * 0.9 + bytes * 0.1)
      if (first) wake(lane) // the size is known: the lane may claim more
    },
    now: ctx.now,
    ...(options.random ? { random: options.random } : {}),
  }).finally(() => {
    lane.bytes -= held
    lane.inFlight.delete(delivery)
    wake(lane)
  })
  lane.inFlight.add(delivery)
}

/** Stops claiming, waits up to `graceMs` for deliveries under way, then aborts them (they stay pending). */
async function closeWorker(ctx: WorkerContext, graceMs: number): Promise<void> {
  ctx.stop.abort()
  await Promise.all(ctx.loops)
  const underWay = () => [...ctx.lanes.values()].flatMap((lane) => [...lane.inFlight])
  if (underWay().length > 0) await Promise.race([Promise.all(underWay()), sleep(graceMs)])
  if (underWay().length > 0) {
    ctx.log.warn('abandoning deliveries still under way; they stay in the queue', { count: underWay().length })
    ctx.abandon.abort(new Error('shutting down'))
    await Promise.race([Promise.all(underWay()), sleep(1_000)])
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
