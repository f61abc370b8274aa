/**
 * Sign-in sessions of the live streams page, kept in memory: a random id per sign-in, ended after a while without
 * use, a fixed time after sign-in whatever the use, or by signing out. A restart signs everyone out.
 * @module
 */

interface SessionOptions {
  /** A session unused this long ends. */
  idleMs?: number
  /** Any session ends this long after its sign-in. */
  absoluteMs?: number
  /** Sessions kept at most; past it the least recently used one ends (only token holders can create them). */
  max?: number
  now?: () => number
}

export interface Sessions {
  /** A new session; its id is 32 random bytes, base64url. */
  create(): string
  /** True when `id` is a live session; using it keeps it alive (within the absolute limit). */
  use(id: string): boolean
  end(id: string): void
  readonly size: number
}

const SESSION_IDLE_MS = 12 * 3_600_000
export const SESSION_ABSOLUTE_MS = 7 * 86_400_000

export function createSessions(options: SessionOptions = {}): Sessions {
  const idleMs = options.idleMs ?? SESSION_IDLE_MS
  const absoluteMs = options.absoluteMs ?? SESSION_ABSOLUTE_MS
  const max = options.max ?? 1_000
  const now = options.now ?? Date.now
  // Insertion order is use order: each use moves a session to the end, so the first one is the least recently used.
  const live = new Map<string, { created: number; used: number }>()
  const expired = (session: { created: number; used: number }, at: number) =>
    at - session.used >= idleMs || at - session.created >= absoluteMs

  return {
    create() {
      const at = now()
      for (const [id, session] of live) if (expired(session, at)) live.delete(id)
      while (live.size >= max) live.delete(live.keys().next().value!)
      const id = base64url(crypto.getRandomValues(new Uint8Array(32)))
      live.set(id, { created: at, used: at })
      return id
    },
    use(id) {
      const session = live.get(id)
      if (!session) return false
      live.delete(id)
      const at = now()
      if (expired(session, at)) return false
      live.set(id, { created: session.created, used: at })
      return true
    },
    end(id) {
      live.delete(id)
    },
    get size() {
      return live.size
    },
  }
}

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '')
}
