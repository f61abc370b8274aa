/**
 * One delivery attempt, with no state of its own: load the claimed event, call the destination with a deadline
 * and an abort signal, classify the outcome, then ack, retry or dead-letter the claim. The worker calls it for
 * every claim; a serverless handler can call it directly before answering.
 *
 * Three kinds of failure are kept apart, because their consequences differ: the destination failed (an attempt:
 * retry or dead letter, and the circuit hears of it), hookcast's own code failed on this event (a poison event:
 * dead letter at once, not the destination's fault), and the queue failed to load the event or record the outcome
 * (not an attempt: the queue is retried, the destination is left alone).
 * @module
 */
import { DeliveryDeferred, DeliveryError, type Destination } from '../destinations/types.ts'
import type { HookEvent } from '../events/types.ts'
import type { Logger } from '../log.ts'
import { LeaseLostError, type Claim, type Queue } from '../queue/types.ts'
import type { CircuitPolicy, Verdict } from './circuit.ts'
import { nextAttempt, type RetryPolicy } from './retry.ts'
import { attemptDeadlines, type AttemptDeadlines } from './attempt-deadlines.ts'

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
  /** Where the attempt's deadline signal comes from (shared with attempts started close by; see attempt-deadlines.ts). */
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

export async function deliverOne(claim: Claim, options: DeliverOneOptions): Promise<Verdict> {
  const { queue, destination, policy, log } = options
  const now = options.now ?? Date.now
  const name = claim.destination
  const started = now()
  const report = (outcome: Outcome, error?: string) => {
    const fields = {
      destination: name,
      id: claim.eventId,
      attempt: claim.attempts.length + (outcome === 'delivered' ? 1 : 0),
      ms: now() - started,
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
      log.error('outcome listener failed', { error: errorMessage(listenerError) }) // the outcome itself is recorded
    }
    // hookcast's own destinations (`@streams`) get every thumbnail and feed hook too: their line is a debug one.
    if (outcome === 'delivered') log[name.startsWith('@') ? 'debug' : 'info']('delivered', fields)
    else if (outcome === 'retry')
      log.warn('delivery failed; will retry', { ...fields, error, nextAt: new Date(claim.nextAt).toISOString() })
    else log.error('delivery failed; moved to dead letters', { ...fields, error })
  }
  /** Records the outcome; a queue failure is retried until it sticks (if the process dies first, the delivery is made again). */
  const record = async (what: string, write: () => Promise<void>) => {
    for (let wait = 1_000; ; wait = Math.min(wait * 2, 30_000)) {
      try {
        await write()
        return
      } catch (error) {
        if (error instanceof LeaseLostError) {
          log.warn('a delivery outlived its claim; another worker has it', { destination: name, id: claim.eventId })
          return
        }
        log.error(`cannot record a ${what} in the queue; trying again`, {
          destination: name,
          id: claim.eventId,
          error: errorMessage(error),
        })
        options.onQueueError?.('record')
        if (options.signal?.aborted) return // it stays pending as the queue last knew it
        await new Promise((resolve) => setTimeout(resolve, wait))
      }
    }
  }

  let event: HookEvent | undefined
  if (destination) {
    try {
      event = await queue.load(claim)
      options.onLoaded?.(event.body.byteLength)
    } catch (error) {
      log.error('cannot read an event from the queue; retrying later', {
        destination: name,
        id: claim.eventId,
        error: errorMessage(error),
      })
      options.onQueueError?.('load')
      await record('release', () => queue.retry(claim, now() + QUEUE_RETRY_MS))
      return 'none'
    }
  }

  // Aborted at the attempt's deadline, or when options.signal is (shutting down).
  const deadline = (options.deadlines ?? attemptDeadlines(options.signal))(policy.timeoutMs)
  let failure: unknown
  let ok = false
  try {
    if (!destination || !event)
      throw new DeliveryError(`destination "${name}" is not configured any more`, { permanent: true })
    await abortable(destination.deliver(event, deadline.signal), deadline.signal)
    ok = true
  } catch (error) {
    failure = error
  } finally {
    deadline.done()
  }

  if (ok) {
    await record('delivery', () => queue.ack(claim))
    report('delivered')
    return 'up'
  }
  if (options.signal?.aborted && deadline.signal.reason === options.signal.reason) {
    // Not an attempt: given back as it was (best effort; if this fails too, the claim's lease runs out).
    await queue.retry(claim, claim.nextAt).catch(() => {})
    return 'none'
  }
  if (failure instanceof DeliveryDeferred) {
    const at = Math.max(failure.until, now() + 10)
    await record('deferral', () => queue.retry(claim, at))
    log.debug('delivery deferred', {
      destination: name,
      id: claim.eventId,
      reason: failure.message,
      until: new Date(at).toISOString(),
    })
    return 'none'
  }

  const message = errorMessage(failure)
  const attempt = { at: now(), error: message }
  const attempts = [...claim.attempts, attempt]
  const poison = isOwnFailure(failure)
  const verdict = poison
    ? { retry: false as const, reason: 'hookcast cannot process this event' }
    : nextAttempt(policy.retry, failure, attempts.length, claim.since, now(), options.random)
  if (verdict.retry) {
    claim.nextAt = verdict.at
    await record('retry', () => queue.retry(claim, verdict.at, attempt))
    claim.attempts = attempts
    report('retry', message)
    return 'down'
  }
  await record('dead letter', () => queue.dead(claim, attempts))
  claim.attempts = attempts
  report('dead', `${message} (${verdict.reason})`)
  if (poison) return 'none'
  // A permanent error is an answer: the destination is up, it refused this one. Max age is a destination down.
  return failure instanceof DeliveryError && failure.permanent ? 'up' : 'down'
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

export function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : ''
    return `${error.message}${cause}`.slice(0, 500)
  }
  return String(error).slice(0, 500)
}
