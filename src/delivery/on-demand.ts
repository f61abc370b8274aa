/**
 * Deliveries made on demand instead of by the background worker, for a serverless function, which is frozen as soon
 * as it answers: nothing may be left running. A run is bounded by a deadline; at it, deliveries under way are
 * aborted and given back to the queue (not an attempt). Each is made as the worker makes it (deliverInLane), so the
 * retry schedule, dead letters, leases and circuits are the long-running gateway's. Circuits live as long as the
 * instance: a warm function leaves a destination that is down to the next drain, not waiting on it in every request.
 * @module
 */
import type { Logger } from '../log.ts'
import type { Claim, Queue } from '../queue/types.ts'
import { createCircuit, type Circuit } from './circuit.ts'
import { errorMessage, type DeliveryPolicy, type OutcomeReport } from './deliver-one.ts'
import { deliverInLane } from './lane-delivery.ts'
import type { LaneStatus, Worker, WorkerOptions } from './worker.ts'

/** What a run did. */
export interface RunReport {
  delivered: number
  /** Failed attempts, to be tried again by the retry schedule. */
  retried: number
  dead: number
  /** Claimed but not finished by the deadline (or deferred): back in the queue, no attempt counted. */
  released: number
  /** Destinations passed over because their circuit is open. */
  paused: string[]
}

export interface OnDemandWorker extends Worker {
  /** Tells the runs under way of an event just put (`GatewayOptions.onAccepted`). */
  accepted(eventId: string, destinations: readonly string[]): void
  /**
   * Runs `work` (a request), then makes the deliveries of the events put meanwhile, and of the events those lead to
   * (a stream going live), each claimed by its event, until `deadline` (epoch ms); resolves with `work`'s result once
   * they are made or given back (at most `settleMs` after the deadline).
   */
  around<T>(work: () => Promise<T>, deadline: number): Promise<{ result: T; report: RunReport }>
  /** Makes what is due, one lane per destination (its concurrency, its circuit), until `deadline` or none is due. */
  drain(deadline: number): Promise<RunReport>
}

interface OnDemandOptions {
  /** After the deadline, how long aborted deliveries get to be given back before the run answers anyway. */
  settleMs?: number
}

/** A claim is held this much longer than the run's deadline: the lease only runs out when the instance died. */
const LEASE_MARGIN_MS = 30_000
const SETTLE_MS = 1_000

interface Lane {
  name: string
  policy: DeliveryPolicy
  circuit: Circuit
  inFlight: number
}

interface Run {
  signal: AbortSignal
  /** Events put since the run started, not yet looked at. */
  pending: { eventId: string; destinations: readonly string[] }[]
  accepted: number
  wake(): void
  report: RunReport
}

/** What the on-demand worker's steps share. */
interface OnDemandContext {
  options: WorkerOptions
  queue: Queue
  log: Logger
  now: () => number
  settleMs: number
  /** Live as long as the instance, so a warm function remembers a destination that is down. */
  lanes: Map<string, Lane>
  runs: Set<Run>
  /** Deliveries of every run that may outlive it (after its deadline), for `close` to wait for. */
  underWay: Set<Promise<unknown>>
  /** Aborts every run (closing). */
  closing: AbortController
}

export function onDemandWorker(options: WorkerOptions, onDemand: OnDemandOptions = {}): OnDemandWorker {
  const ctx: OnDemandContext = {
    options,
    queue: options.queue,
    log: options.log,
    now: options.now ?? Date.now,
    settleMs: onDemand.settleMs ?? SETTLE_MS,
    lanes: new Map(),
    runs: new Set(),
    underWay: new Set(),
    closing: new AbortController(),
  }
  for (const name of options.destinations.keys()) laneOf(ctx, name)

  return {
    accepted(eventId, destinations) {
      for (const run of ctx.runs) {
        run.pending.push({ eventId, destinations })
        run.accepted++
        run.wake()
      }
    },
    async around(work, deadline) {
      const run = openRun(ctx, deadline)
      try {
        // The request itself is not cut short: its answer depends on it (the event is durable once it is put).
        const result = await work()
        return { result, report: await settle(ctx, run, deliverAccepted(ctx, run, deadline)) }
      } finally {
        run.end()
      }
    },
    async drain(deadline) {
      const run = openRun(ctx, deadline)
      try {
        return await settle(ctx, run, drainLanes(ctx, run, deadline))
      } finally {
        run.end()
      }
    },
    lanes: (): LaneStatus[] =>
      [...ctx.lanes.values()].map((lane) => ({
        destination: lane.name,
        kind: options.destinations.get(lane.name)?.kind ?? 'missing',
        inFlight: lane.inFlight,
        circuit: lane.circuit.state(),
      })),
    close: (graceMs) => closeOnDemand(ctx, graceMs),
  }
}

function laneOf(ctx: OnDemandContext, name: string): Lane {
  let lane = ctx.lanes.get(name)
  if (!lane) {
    const policy = ctx.options.policyFor(name)
    ctx.lanes.set(name, (lane = { name, policy, circuit: createCircuit(policy.circuit), inFlight: 0 }))
  }
  return lane
}

function track<T>(ctx: OnDemandContext, promise: Promise<T>): Promise<T> {
  ctx.underWay.add(promise)
  void promise.finally(() => ctx.underWay.delete(promise)).catch(() => {})
  return promise
}

/** One delivery of a claim, the worker's way; the run counts its outcome. */
async function attempt(ctx: OnDemandContext, run: Run, lane: Lane, claim: Claim, probe: boolean): Promise<void> {
  const { options } = ctx
  let reported = false
  lane.inFlight++
  try {
    const delivered = await deliverInLane(claim, lane, probe, {
      queue: ctx.queue,
      destination: options.destinations.get(lane.name),
      policy: lane.policy,
      log: ctx.log,
      signal: run.signal,
      now: ctx.now,
      ...(options.random ? { random: options.random } : {}),
      ...(options.onQueueError ? { onQueueError: options.onQueueError } : {}),
      onOutcome(report: OutcomeReport) {
        reported = true
        if (report.outcome === 'delivered') run.report.delivered++
        else if (report.outcome === 'retry') run.report.retried++
        else run.report.dead++
        options.onOutcome?.(report)
      },
    })
    // No outcome: given back to the queue (aborted at the deadline, deferred, the queue failed).
    if (delivered && !reported) run.report.released++
  } finally {
    lane.inFlight--
  }
}

/** Claims up to `max` due deliveries of a lane (of one event, when given) and makes them; false when none was due. */
async function claimAndDeliver(
  ctx: OnDemandContext,
  run: Run,
  lane: Lane,
  deadline: number,
  eventId?: string,
): Promise<boolean> {
  const { now } = ctx
  if (run.signal.aborted) return false
  if (!lane.circuit.tryPass(now())) {
    if (!run.report.paused.includes(lane.name)) run.report.paused.push(lane.name)
    return false
  }
  const probe = lane.circuit.state() === 'half-open'
  const claims = await claimFor(ctx, lane, deadline, probe, eventId)
  if (claims.length === 0) {
    if (probe) lane.circuit.release(now())
    return false
  }
  if (run.signal.aborted) {
    // Claimed just as the time ran out: given back at once, as they were.
    await Promise.all(claims.map((claim) => ctx.queue.retry(claim, claim.nextAt).catch(() => {})))
    run.report.released += claims.length
    if (probe) lane.circuit.release(now())
    return false
  }
  await Promise.all(claims.map((claim, index) => attempt(ctx, run, lane, claim, probe && index === 0)))
  return true
}

/** The lane's due claims: as many as its concurrency, or one (a probe, one event's); none when the queue failed. */
async function claimFor(
  ctx: OnDemandContext,
  lane: Lane,
  deadline: number,
  probe: boolean,
  eventId: string | undefined,
): Promise<Claim[]> {
  try {
    return await ctx.queue.claim({
      destination: lane.name,
      max: probe || eventId !== undefined ? 1 : lane.policy.concurrency,
      leaseMs: Math.max(0, deadline - ctx.now()) + LEASE_MARGIN_MS,
      ...(eventId !== undefined ? { eventId } : {}),
    })
  } catch (error) {
    ctx.log.error('cannot claim deliveries from the queue', { destination: lane.name, error: errorMessage(error) })
    ctx.options.onQueueError?.('claim')
    return []
  }
}

/** Starts a run: from now on it hears of every event put; its signal aborts at `deadline` (or on close). */
function openRun(ctx: OnDemandContext, deadline: number): Run & { end(): void } {
  const { closing, runs } = ctx
  const controller = new AbortController()
  const stop = () => controller.abort(new Error('the function is about to answer; given back to the queue'))
  const timer = setTimeout(stop, Math.max(0, deadline - ctx.now()))
  closing.signal.addEventListener('abort', stop, { once: true })
  const run = {
    signal: controller.signal,
    pending: [],
    accepted: 0,
    wake: () => {},
    report: { delivered: 0, retried: 0, dead: 0, released: 0, paused: [] },
    end() {
      clearTimeout(timer)
      closing.signal.removeEventListener('abort', stop)
      runs.delete(run)
    },
  }
  runs.add(run)
  return run
}

/** Waits for a run's deliveries, or until `settleMs` after its deadline (what is still under way finishes later). */
async function settle(ctx: OnDemandContext, run: Run, deliveries: Promise<void>): Promise<RunReport> {
  const late = new Promise<void>((resolve) => {
    const onStop = () => setTimeout(resolve, ctx.settleMs)
    if (run.signal.aborted) onStop()
    else run.signal.addEventListener('abort', onStop, { once: true })
  })
  await Promise.race([track(ctx, deliveries), late])
  return { ...run.report, paused: [...run.report.paused] }
}

/** Makes the deliveries of the events put during the run, as they come, until none is left or the time is up. */
async function deliverAccepted(ctx: OnDemandContext, run: Run, deadline: number): Promise<void> {
  const started = new Set<Promise<boolean>>()
  for (;;) {
    for (const { eventId, destinations } of run.pending.splice(0)) {
      for (const name of destinations) {
        const delivery = claimAndDeliver(ctx, run, laneOf(ctx, name), deadline, eventId)
        started.add(delivery)
        void delivery.finally(() => started.delete(delivery))
      }
    }
    if (started.size === 0 || run.signal.aborted) break
    // Wakes when a delivery ends (it may have put a lifecycle event) or an event is put.
    await new Promise<void>((resolve) => {
      run.wake = resolve
      for (const delivery of started) void delivery.finally(resolve)
    })
  }
  await Promise.all(started)
}

/** Makes what is due, lane by lane, in rounds until a round finds nothing and no event was put meanwhile. */
async function drainLanes(ctx: OnDemandContext, run: Run, deadline: number): Promise<void> {
  const names = new Set(ctx.lanes.keys())
  try {
    // Deliveries for a destination no longer configured get a lane too, which dead-letters them.
    for (const name of Object.keys((await ctx.queue.stats()).destinations)) names.add(name)
  } catch (error) {
    ctx.log.warn('cannot read queue stats', { error: errorMessage(error) })
  }
  // A round ends when every lane found nothing due; events put meanwhile (a stream went live) get another.
  for (let accepted = -1; accepted !== run.accepted && !run.signal.aborted; ) {
    accepted = run.accepted
    run.pending.length = 0
    await Promise.all(
      [...names].map(async (name) => {
        const lane = laneOf(ctx, name)
        while (await claimAndDeliver(ctx, run, lane, deadline)) {
          /* next batch */
        }
      }),
    )
  }
}

async function closeOnDemand(ctx: OnDemandContext, graceMs: number): Promise<void> {
  const all = () => Promise.all([...ctx.underWay])
  if (ctx.underWay.size > 0) await Promise.race([all(), new Promise((resolve) => setTimeout(resolve, graceMs))])
  ctx.closing.abort()
  await Promise.race([all(), new Promise((resolve) => setTimeout(resolve, ctx.settleMs))])
}
