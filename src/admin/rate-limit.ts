/**
 * Failed credential attempts per client: past `maxFailures` within a window, the client must wait for the window
 * to end, and every attempt meanwhile is refused (the right token too, or guessing would go on). A success does
 * not clear the count: behind a proxy many clients can share one address, and one client's success must not
 * reset another's guessing. The table is bounded: expired entries go first, then the oldest, so a flood of
 * addresses cannot grow it.
 * @module
 */

export interface FailureLimitOptions {
  /** Failures a client may make per window. */
  maxFailures?: number
  windowMs?: number
  /** Clients tracked at most. */
  maxClients?: number
  now?: () => number
}

export interface FailureLimit {
  /** Seconds `client` must still wait, or undefined when it may try. */
  blocked(client: string): number | undefined
  failed(client: string): void
  readonly size: number
}

export const MAX_FAILURES = 10
export const FAILURE_WINDOW_MS = 60_000

export function createFailureLimit(options: FailureLimitOptions = {}): FailureLimit {
  const maxFailures = options.maxFailures ?? MAX_FAILURES
  const windowMs = options.windowMs ?? FAILURE_WINDOW_MS
  const maxClients = options.maxClients ?? 10_000
  const now = options.now ?? Date.now
  // A fixed window per client, from its first failure; insertion order is the order windows began.
  const clients = new Map<string, { failures: number; until: number }>()

  return {
    blocked(client) {
      const entry = clients.get(client)
      const at = now()
      if (!entry || entry.until <= at || entry.failures < maxFailures) return undefined
      return Math.max(1, Math.ceil((entry.until - at) / 1000))
    },
    failed(client) {
      const at = now()
      const entry = clients.get(client)
      if (entry && entry.until > at) {
        entry.failures++
        return
      }
      clients.delete(client)
      if (clients.size >= maxClients) {
        for (const [key, old] of clients) if (old.until <= at) clients.delete(key)
        while (clients.size >= maxClients) clients.delete(clients.keys().next().value!)
      }
      clients.set(client, { failures: 1, until: at + windowMs })
    },
    get size() {
      return clients.size
    },
  }
}
