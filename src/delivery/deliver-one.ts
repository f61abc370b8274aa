/**
 * One delivery attempt, with no state of its own: load the claimed event, call the destination with a deadline,
 * then ack, retry or dead-letter the claim. Three kinds of failure are kept apart, as their consequences differ: the
 * destination failed (an attempt, which the circuit hears of), hookcast's own code failed on this event (a poison
 * event: dead letter at once, not the destination's fault), or the queue failed (not an attempt: retried later).
 * @module
 */
import { DeliveryDeferred, DeliveryError, type Destination } from '../destinations/types.ts'
import type { HookEvent } from '../events/types.ts'
import type { Logger } from '../log.ts'
import { LeaseLostError, type Claim, type Queue } from '../queue/types.ts'
import type { CircuitPolicy, Verdict } from './circuit.ts'
import { nextAttempt, type RetryPolicy } from './retry.ts'
import { attemptDeadlines, type AttemptDeadlines } from './attempt-deadlines.ts'
import type { Span } from '@opentelemetry/api'
import { deliverInSpan, endAttemptSpan, startAttemptSpan } from '../tracing/attempt-span.ts'

export interface DeliveryPolicy {
  concurrency: number
  timeoutMs: number
  retry: RetryPolicy
  circuit: CircuitPolicy
}

type Outcome = 'delivered' | 'retry' | 'dead'

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

export interface DeliverOneOptions {
  queue: Queue
  /** The destination the claim is for; undefined when it is not configured any more (dead letter). */
  destination: Destination | undefined
  policy: DeliveryPolicy
  log: Logger
  /** Aborts the attempt from outside (shutting down, a deadline): the delivery is released, not charged. */
  signal?: AbortSignal
  /** Where the attempt's deadline signal comes from (shared with attempts started close by: attempt-deadlines.ts). */
  deadlines?: AttemptDeadlines
  onOutcome?: (report: OutcomeReport) => void
  /** Told when the queue failed under a delivery (load, record): counted apart from the destination's failures. */
  onQueueError?: (step: 'load' | 'record') => void
  /** Told the size of the event's body once it is loaded (the worker bounds the bytes its deliveries hold). */
  onLoaded?: (bytes: number) => void
  now?: () => number
  random?: () => number
}

/** How long a queue failure waits before the delivery is tried again (no attempt counted). */
const QUEUE_RETRY_MS = 5_000

/** One attempt, as its steps see it. */
interface Attempt {
  claim: Claim
  options: DeliverOneOptions
  now: () => number
  /** When it started, for the time it took. */
  started: number
  /** Its span, with tracing on. */
  span?: Span | undefined
}

export async function deliverOne(claim: Claim, options: DeliverOneOptions): Promise<Verdict> {
  const now = options.now ?? Date.now
  const a: Attempt = { claim, options, now, started: now() }
  let event: HookEvent | undefined
  if (options.destination) {
    event = await loadEvent(a)
    if (!event) return 'none'
  }
  a.span = startAttemptSpan(claim.destination, options.destination, claim.attempts.length + 1, event)
  const called = await callDestination(a, event)
  if (called.ok) {
    await recordInQueue(a, 'delivery', () => options.queue.ack(claim))
    reportOutcome(a, 'delivered')
    return 'up'
  }
  if (options.signal?.aborted && called.signal.reason === options.signal.reason) {
    // Not an attempt: given back as it was (best effort; if this fails too, the claim's lease runs out).
    if (a.span) endAttemptSpan(a.span, 'released')
    await options.queue.retry(claim, claim.nextAt).catch(() => {})
    return 'none'
  }
  if (called.failure instanceof DeliveryDeferred) return defer(a, called.failure)
  return afterFailure(a, called.failure)
}

/**
 * The claimed event; undefined when the queue could not load it (given back for later: not an attempt), or when the
 * claim turned out to be another worker's (nothing to give back).
 */
async function loadEvent(a: Attempt): Promise<HookEvent | undefined> {
  const { claim, options } = a
  try {
    const event = await options.queue.load(claim)
    options.onLoaded?.(event.body.byteLength)
    return event
  } catch (error) {
    if (error instanceof LeaseLostError) {
      warnLeaseLost(a)
      return undefined
    }
    options.log.error('cannot read an event from the queue; retrying later', {
      destination: claim.destination,
      id: claim.eventId,
      error: errorMessage(error),
    })
    options.onQueueError?.('load')
    await recordInQueue(a, 'release', () => options.queue.retry(claim, a.now() + QUEUE_RETRY_MS))
    return undefined
  }
}

/** Calls the destination, aborted at the attempt's deadline or when options.signal is (shutting down). */
async function callDestination(
  a: Attempt,
  event: HookEvent | undefined,
): Promise<{ ok: true } | { ok: false; failure: unknown; signal: AbortSignal }> {
  const { options } = a
  const { destination } = options
  const deadline = (options.deadlines ?? attemptDeadlines(options.signal))(options.policy.timeoutMs)
  try {
    if (!destination || !event)
      throw new DeliveryError(`destination "${a.claim.destination}" is not configured any more`, { permanent: true })
    const delivery = a.span
      ? deliverInSpan(a.span, destination, event, deadline.signal)
      : destination.deliver(event, deadline.signal)
    await abortable(delivery, deadline.signal)
    return { ok: true }
  } catch (error) {
    return { ok: false, failure: error, signal: deadline.signal }
  } finally {
    deadline.done()
  }
}

/** The destination cannot act on the event yet: tried again at the time it names, with no attempt counted. */
async function defer(a: Attempt, deferred: DeliveryDeferred): Promise<Verdict> {
  const { claim, options } = a
  const at = Math.max(deferred.until, a.now() + 10)
  await recordInQueue(a, 'deferral', () => options.queue.retry(claim, at))
  if (a.span) endAttemptSpan(a.span, 'deferred', deferred.message)
  options.log.debug('delivery deferred', {
    destination: claim.destination,
    id: claim.eventId,
    reason: deferred.message,
    until: new Date(at).toISOString(),
  })
  return 'none'
}

/** A failed attempt: tried again by the retry schedule, or a dead letter (at once for a poison event). */
async function afterFailure(a: Attempt, failure: unknown): Promise<Verdict> {
  const { claim, options } = a
  const message = errorMessage(failure)
  const attempt = { at: a.now(), error: message }
  const attempts = [...claim.attempts, attempt]
  const poison = isOwnFailure(failure)
  const next = poison
    ? { retry: false as const, reason: 'hookcast cannot process this event' }
    : nextAttempt(options.policy.retry, failure, attempts.length, claim.since, a.now(), options.random)
  if (next.retry) {
    claim.nextAt = next.at
    await recordInQueue(a, 'retry', () => options.queue.retry(claim, next.at, attempt))
    claim.attempts = attempts
    reportOutcome(a, 'retry', message)
    return 'down'
  }
  await recordInQueue(a, 'dead letter', () => options.queue.dead(claim, attempts))
  claim.attempts = attempts
  reportOutcome(a, 'dead', `${message} (${next.reason})`)
  if (poison) return 'none'
  // A permanent error is an answer: the destination is up, it refused this one. Max age is a destination down.
  return failure instanceof DeliveryError && failure.permanent ? 'up' : 'down'
}

/** Tells the outcome listener and the log. */
function reportOutcome(a: Attempt, outcome: Outcome, error?: string): void {
  const { claim, options } = a
  if (a.span) endAttemptSpan(a.span, outcome, error)
  const name = claim.destination
  const fields = {
    destination: name,
    id: claim.eventId,
    attempt: claim.attempts.length + (outcome === 'delivered' ? 1 : 0),
    ms: a.now() - a.started,
  }
  try {
    options.onOutcome?.({
      ...fields,
      eventId: claim.eventId,
      outcome,
      ...(error ? { error } : {}),
      ...(outcome === 'retry' ? { nextAt: claim.nextAt } : {}),
    })
  } catch (listenerError) {
    // The outcome itself is recorded: a failing listener only costs its own report.
    options.log.error('outcome listener failed', { error: errorMessage(listenerError) })
  }
  // hookcast's own destinations (`@streams`) get every thumbnail and feed hook too: their line is a debug one.
  if (outcome === 'delivered') options.log[name.startsWith('@') ? 'debug' : 'info']('delivered', fields)
  else if (outcome === 'retry')
    options.log.warn('delivery failed; will retry', { ...fields, error, nextAt: new Date(claim.nextAt).toISOString() })
  else options.log.error('delivery failed; moved to dead letters', { ...fields, error })
}

/** The claim went to another worker (this one was thought gone): its delivery is theirs, made once more at worst. */
function warnLeaseLost({ claim, options }: Attempt): void {
  options.log.warn('a delivery outlived its claim; another worker has it', {
    destination: claim.destination,
    id: claim.eventId,
  })
}

/** Records the outcome, again until the queue takes it (if the process dies first, the delivery is made again). */
async function recordInQueue(a: Attempt, what: string, write: () => Promise<void>): Promise<void> {
  const { claim, options } = a
  for (let wait = 1_000; ; wait = Math.min(wait * 2, 30_000)) {
    try {
      await write()
      return
    } catch (error) {
      if (error instanceof LeaseLostError) {
        warnLeaseLost(a)
        return
      }
      options.log.error(`cannot record a ${what} in the queue; trying again`, {
        destination: claim.destination,
        id: claim.eventId,
        error: errorMessage(error),
      })
      options.onQueueError?.('record')
      if (options.signal?.aborted) return // it stays pending as the queue last knew it
      await new Promise((resolve) => setTimeout(resolve, wait))
    }
  }
}

/**
 * A failure of hookcast's own code on this event (a poison event) rather than of the destination: JavaScript's
 * errors for impossible work — a stack overflow on absurd nesting, an invalid date, a bad array length, a syntax
 * error — fail the same way every time, so retrying only starves the events behind it. Network errors are
 * TypeErrors on some runtimes (`fetch failed`), so TypeErrors are left transient.
 */
function isOwnFailure(error: unknown): boolean {
  return (
    error instanceof RangeError ||
    error instanceof SyntaxError ||
    error instanceof ReferenceError ||
    error instanceof URIError
  )
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

/** An error as an attempt records it and logs show it: its message and its cause's, at most 500 characters. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : ''
    return `${error.message}${cause}`.slice(0, 500)
  }
  return String(error).slice(0, 500)
}
