/**
 * Sign-in sessions of the live streams page: a random id per sign-in, ended after a while without use, a fixed time
 * after sign-in whatever the use, or by signing out. They are kept in the backend's session store under the hash of
 * their id, so every instance on a shared backend honours them; a use is written at most every `touchEveryMs`, not
 * at each of the page's requests.
 * @module
 */
import { SESSION_ABSOLUTE_MS, storeKey, type SessionStore, type StoredSession } from './session-store.ts'

interface SessionOptions {
  /** A session unused this long ends. */
  idleMs?: number
  /** Any session ends this long after its sign-in (at most SESSION_ABSOLUTE_MS: stores forget sessions after it). */
  absoluteMs?: number
  /** A use is written when the last one written is this old (so a session ends idle up to this much early). */
  touchEveryMs?: number
  now?: () => number
}

export interface Sessions {
  /** A new session; its id is 32 random bytes, base64url. */
  create(): Promise<string>
  /** True when `id` is a live session; using it keeps it alive (within the absolute limit). */
  use(id: string): Promise<boolean>
  end(id: string): Promise<void>
}

const SESSION_IDLE_MS = 12 * 3_600_000
const TOUCH_EVERY_MS = 30 * 60_000

export { SESSION_ABSOLUTE_MS }

export function createSessions(store: SessionStore, options: SessionOptions = {}): Sessions {
  const idleMs = options.idleMs ?? SESSION_IDLE_MS
  const absoluteMs = Math.min(options.absoluteMs ?? SESSION_ABSOLUTE_MS, SESSION_ABSOLUTE_MS)
  const touchEveryMs = options.touchEveryMs ?? TOUCH_EVERY_MS
  const now = options.now ?? Date.now
  const expired = (session: StoredSession, at: number) =>
    at - session.used >= idleMs || at - session.created >= absoluteMs

  return {
    async create() {
      const id = base64url(crypto.getRandomValues(new Uint8Array(32)))
      const at = now()
      await store.create(await storeKey(id), { created: at, used: at })
      return id
    },
    async use(id) {
      const key = await storeKey(id)
      const session = await store.get(key)
      if (!session) return false
      const at = now()
      if (expired(session, at)) {
        await store.revoke(key)
        return false
      }
      if (at - session.used >= touchEveryMs) await store.touch(key, at)
      return true
    },
    async end(id) {
      await store.revoke(await storeKey(id))
    },
  }
}

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '')
}
