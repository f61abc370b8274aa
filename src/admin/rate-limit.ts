/**
 * Failed credential attempts per client: past `maxFailures` within a window, the client must wait for the window
 * to end, and every attempt meanwhile is refused (the right token too, or guessing would go on). A success does not
 * clear the count: behind a proxy many clients share one address, and one's success must not reset another's
 * guessing. An attempt counts as a failure as soon as it arrives, before its token is checked (which awaits a hash),
 * else hundreds of concurrent guesses would all pass while the first were hashing; a right one gives it back.
 * @module
 */

interface FailureLimitOptions {
  /** Failures a client may make per window. */
  maxFailures?: number
  windowMs?: number
  /** Clients tracked at most. */
  maxClients?: number
  now?: () => number
}

/** A client's attempt: refused (wait this many seconds), or counted, with a way to give the count back. */
type Attempt = { retryAfter: number } | { succeeded(): void }

export interface FailureLimit {
  /** Call synchronously, before any await: counts the attempt as a failure unless the client must wait. */
  attempt(client: string): Attempt
  readonly size: number
}

export const MAX_FAILURES = 10
const FAILURE_WINDOW_MS = 60_000

interface Window {
  failures: number
  until: number
}

export function createFailureLimit(options: FailureLimitOptions = {}): FailureLimit {
  const maxFailures = options.maxFailures ?? MAX_FAILURES
  const windowMs = options.windowMs ?? FAILURE_WINDOW_MS
  const maxClients = options.maxClients ?? 10_000
  const now = options.now ?? Date.now
  // A fixed window per client, from its first failure; insertion order is the order windows began.
  const clients = new Map<string, Window>()

  const open = (client: string, at: number): Window => {
    clients.delete(client)
    if (clients.size >= maxClients) {
      for (const [key, old] of clients) if (old.until <= at) clients.delete(key)
      while (clients.size >= maxClients) clients.delete(clients.keys().next().value!)
    }
    const window = { failures: 0, until: at + windowMs }
    clients.set(client, window)
    return window
  }

  return {
    attempt(client) {
      const at = now()
      const current = clients.get(client)
      const window = current && current.until > at ? current : open(client, at)
      if (window.failures >= maxFailures) return { retryAfter: Math.max(1, Math.ceil((window.until - at) / 1000)) }
      window.failures++
      let given = false
      return {
        succeeded() {
          if (given) return
          given = true
          window.failures = Math.max(0, window.failures - 1) // a window already replaced is a detached object
        },
      }
    },
    get size() {
      return clients.size
    },
  }
}
