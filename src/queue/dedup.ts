/**
 * The dedup window: ids of events seen recently (an event's id is a hash of its hook). The platform signs no
 * timestamp, so a captured request can be replayed at will: an identical hook within the window is answered 200 but
 * not fanned out again.
 *
 * Behind a small async interface so a store shared by several instances (a NATS KV bucket with a max age, created
 * with "create only if absent") can keep the window for all of them.
 * @module
 */

export interface DedupWindow {
  /** Remembers `id` for the window; false when it was remembered already (a duplicate). Atomic. */
  remember(id: string): Promise<boolean>
  /** Forgets `id`: the put it guarded failed, so the same hook sent again must not count as a duplicate. */
  forget(id: string): Promise<void>
  /** Whether `id` is remembered within the window (without remembering it). */
  has(id: string): Promise<boolean>
}

/** The window in this process's memory: one instance, lost on restart. */
export function memoryDedupWindow(windowMs: number, now: () => number = Date.now): DedupWindow {
  const expiries = new Map<string, number>() // insertion order = expiry order, as the window is fixed
  const purge = (at: number) => {
    for (const [id, expiry] of expiries) {
      if (expiry > at) break
      expiries.delete(id)
    }
  }
  return {
    async remember(id) {
      const at = now()
      purge(at)
      if (windowMs <= 0) return true
      if (expiries.has(id)) return false
      expiries.set(id, at + windowMs)
      return true
    },
    async forget(id) {
      expiries.delete(id)
    },
    async has(id) {
      purge(now())
      return expiries.has(id)
    },
  }
}
