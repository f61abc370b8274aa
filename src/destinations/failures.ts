/**
 * Helpers a destination uses to classify what its far end answered, for the retry schedule.
 * @module
 */
import { DeliveryError } from './types.ts'

/** Parses a Retry-After header (seconds or an HTTP date) into ms; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Math.round(Number(value) * 1000)
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

/**
 * Classifies an HTTP status from a destination: 408, 429 and 5xx are worth retrying; any other 4xx means the
 * request itself is wrong and will be wrong again.
 */
export function httpFailure(status: number, what: string, retryAfter?: string | null): DeliveryError {
  const permanent = status >= 400 && status < 500 && status !== 408 && status !== 429
  const retryAfterMs = parseRetryAfter(retryAfter)
  return new DeliveryError(`${what} answered ${status}`, {
    permanent,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  })
}
