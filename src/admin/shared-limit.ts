/**
 * The sign-in failure limit across instances: after the local gate (rate-limit.ts, which stops a burst on one
 * instance before its first await) and the token's check, the verdict is settled against the count in the backend's
 * session store. A wrong token is counted there atomically, and answered 401 only while the count is within the
 * limit; a right one passes only while the client is under it. So however the guesses are spread over instances, at
 * most `maxFailures` wrong tokens per client and window get an answer that says they were wrong. If the store fails,
 * the local gate alone limits (each instance its own count), so that an outage of the backend locks nobody out.
 * @module
 */
import type { Logger } from '../log.ts'
import { FAILURE_WINDOW_MS, storeKey, type SessionStore } from './session-store.ts'
import { MAX_FAILURES } from './rate-limit.ts'

interface SharedLimitOptions {
  maxFailures?: number
  windowMs?: number
  now?: () => number
  log?: Logger
}

export interface SharedLimit {
  /** Seconds the client must wait (answer 429 whatever the verdict), or undefined to answer the verdict. */
  settle(client: string, right: boolean): Promise<number | undefined>
}

export function createSharedLimit(store: SessionStore, options: SharedLimitOptions = {}): SharedLimit {
  const maxFailures = options.maxFailures ?? MAX_FAILURES
  const windowMs = options.windowMs ?? FAILURE_WINDOW_MS
  const now = options.now ?? Date.now
  return {
    async settle(client, right) {
      try {
        // Hashed: an address is not a secret, but the backend has no need to know who signs in.
        const key = await storeKey(`sign-in-failures:${client}`)
        const at = now()
        const window = right ? await store.failures(key, at) : await store.addFailure(key, at, windowMs)
        const over = window !== undefined && (right ? window.failures >= maxFailures : window.failures > maxFailures)
        return over ? Math.max(1, Math.ceil((window.until - at) / 1000)) : undefined
      } catch (error) {
        options.log?.warn('cannot count sign-in failures in the backend; this instance counts alone meanwhile', {
          error: String(error),
        })
        return undefined
      }
    },
  }
}
