/**
 * The retry policy as data: a schedule of waits with jitter, a max age, and which errors are worth retrying. Its
 * defaults are the config schema's (`delivery.retry`).
 * @module
 */
import { DeliveryError } from '../destinations/types.ts'

export interface RetryPolicy {
  /** Waits between attempts, ms; the last one repeats until `maxAgeMs`. */
  scheduleMs: number[]
  /** Each wait is spread by ±jitter (0.2 = ±20%) so retries of many events don't arrive at once. */
  jitter: number
  /** After this long since acceptance (or replay), a failing delivery goes to dead letters. */
  maxAgeMs: number
}

/** Give up, or try again at `at` (epoch ms). */
type RetryDecision = { retry: false; reason: string } | { retry: true; at: number }

/**
 * What to do after attempt number `attempt` (1-based) failed with `error`: give up (permanent error, or too old)
 * or try again at a time that follows the schedule and honours the destination's Retry-After.
 */
export function nextAttempt(
  policy: RetryPolicy,
  error: unknown,
  attempt: number,
  since: number,
  now: number,
  random = Math.random,
): RetryDecision {
  if (error instanceof DeliveryError && error.permanent) return { retry: false, reason: 'permanent error' }
  const base = policy.scheduleMs[Math.min(attempt, policy.scheduleMs.length) - 1] ?? 1_000
  const spread = base * policy.jitter * (random() * 2 - 1)
  const wait = Math.max(base + spread, error instanceof DeliveryError ? (error.retryAfterMs ?? 0) : 0)
  const at = now + Math.round(wait)
  if (at - since > policy.maxAgeMs) return { retry: false, reason: `gave up after ${attempt} attempts (max age)` }
  return { retry: true, at }
}
