/**
 * Sessions and failure counts in memory: the local backend's store (one process owns a spool, so there is nobody to
 * share them with; a restart signs everyone out). Bounded whatever clients send: past `maxSessions` the least
 * recently used session goes (only token holders make them), past `maxClients` the oldest windows.
 * @module
 */
import { countedFailure, type FailureWindow, type SessionStore, type StoredSession } from './session-store.ts'

interface MemorySessionStoreOptions {
  maxSessions?: number
  maxClients?: number
}

export interface MemorySessionStore extends SessionStore {
  readonly sessions: number
  readonly clients: number
}

export function memorySessionStore(options: MemorySessionStoreOptions = {}): MemorySessionStore {
  const maxSessions = options.maxSessions ?? 1_000
  const maxClients = options.maxClients ?? 10_000
  // Insertion order is use (or window) order: the first entry is the one to drop.
  const sessions = new Map<string, StoredSession>()
  const windows = new Map<string, FailureWindow>()
  const keep = <T>(map: Map<string, T>, key: string, value: T, max: number) => {
    map.delete(key)
    while (map.size >= max) map.delete(map.keys().next().value!)
    map.set(key, value)
  }

  return {
    async create(key, session) {
      keep(sessions, key, { ...session }, maxSessions)
    },
    async get(key) {
      const session = sessions.get(key)
      return session && { ...session }
    },
    async touch(key, used) {
      const session = sessions.get(key)
      if (session) keep(sessions, key, { created: session.created, used }, maxSessions)
    },
    async revoke(key) {
      sessions.delete(key)
    },
    async addFailure(key, at, windowMs) {
      const current = windows.get(key)
      const window = countedFailure(current, at, windowMs)
      if (current && current.until > at) windows.set(key, window)
      else {
        if (windows.size >= maxClients) for (const [old, open] of windows) if (open.until <= at) windows.delete(old)
        keep(windows, key, window, maxClients)
      }
      return { ...window }
    },
    async failures(key, at) {
      const window = windows.get(key)
      return window && window.until > at ? { ...window } : undefined
    },
    get sessions() {
      return sessions.size
    },
    get clients() {
      return windows.size
    },
  }
}
