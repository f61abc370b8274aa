/**
 * Where the live page's sessions and the sign-in failure counts are kept: in the backend, so that with several
 * instances any of them honours a session another made and the failure limit counts every instance's guesses. The
 * store is given keys that are already hashes (64 hex digits): a session id or a client address is never stored or
 * sent to the backend in clear. The store only keeps records; what they mean (idle and absolute ends, the limit) is
 * decided by sessions.ts and shared-limit.ts.
 * @module
 */

/** A session as stored; times are epoch ms. */
export interface StoredSession {
  created: number
  /** The last use written (uses are written at most so often, see sessions.ts). */
  used: number
}

/** A client's failures in the window that opened with its first one. */
export interface FailureWindow {
  failures: number
  /** When the window ends, epoch ms. */
  until: number
}

export interface SessionStore {
  /** Keeps a new session under `key`. */
  create(key: string, session: StoredSession): Promise<void>
  /** The session under `key`, or undefined when there is none (never made, revoked, or dropped as expired). */
  get(key: string): Promise<StoredSession | undefined>
  /** Writes a later use, unless the session was revoked meanwhile (a touch never brings a session back). */
  touch(key: string, used: number): Promise<void>
  revoke(key: string): Promise<void>
  /**
   * Counts one failure of the client `key` at `at`, atomically across instances: a window of `windowMs` opens with
   * the first failure after the last one ended. Resolves the window with this failure counted.
   */
  addFailure(key: string, at: number, windowMs: number): Promise<FailureWindow>
  /** The client's window still open at `at`, if any. */
  failures(key: string, at: number): Promise<FailureWindow | undefined>
}

/** The longest a session lives (signed in 7 days ago) and a failure window lasts: what a store may forget after. */
export const SESSION_ABSOLUTE_MS = 7 * 86_400_000
export const FAILURE_WINDOW_MS = 60_000

/** A store key: the SHA-256 of `text`, in hex (safe as a NATS KV key and in an S3 key). */
export async function storeKey(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)))
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, '0')).join('')
}

/** A window opened at `at`, or the one still open with this failure counted. */
export function countedFailure(current: FailureWindow | undefined, at: number, windowMs: number): FailureWindow {
  return current && current.until > at
    ? { failures: current.failures + 1, until: current.until }
    : { failures: 1, until: at + windowMs }
}

/** Parses a stored record, or undefined for one that is not what this version writes. */
export function parseRecord<T extends object>(text: string, fields: Array<keyof T>): T | undefined {
  try {
    const value = JSON.parse(text) as Record<string, unknown>
    return fields.every((field) => Number.isFinite(value[field as string])) ? (value as T) : undefined
  } catch {
    return undefined
  }
}
