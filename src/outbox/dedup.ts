/**
 * Remembers delivery ids seen within a window. The platform signs no timestamp, so a captured request can be
 * replayed at will: an identical delivery within the window is answered 200 but not fanned out again.
 * @module
 */

export interface Dedup {
  /** True when `id` was seen within the window; otherwise remembers it and returns false. */
  seen(id: string, now: number): boolean
  forget(id: string): void
}

export function createDedup(windowMs: number): Dedup {
  const expiries = new Map<string, number>() // insertion order = expiry order, as the window is fixed
  const purge = (now: number) => {
    for (const [id, expiry] of expiries) {
      if (expiry > now) break
      expiries.delete(id)
    }
  }
  return {
    seen(id, now) {
      purge(now)
      if (windowMs <= 0) return false
      if (expiries.has(id)) return true
      expiries.set(id, now + windowMs)
      return false
    },
    forget(id) {
      expiries.delete(id)
    },
  }
}
