/**
 * The page's sessions and sign-in failure counts in two NATS KV buckets (`<prefix>-sessions`,
 * `<prefix>-sign-in`), so every instance honours a session another made and counts every instance's failures. The
 * end of a session or window is inside its value (the page decides by it); the bucket's max age, the longest a
 * session or window can last, only forgets what is over (nats-server 2.9 has no TTL per key, and a write restarts
 * a key's age). Changes are compare-and-set on the revision read, so a use never brings back a revoked session and
 * two instances never count one failure over the other. On a cluster a read may be answered by a replica a few
 * milliseconds behind (KV's direct get): a revoke reaches every instance that much later.
 * @module
 */
import type { NatsConnection } from '@nats-io/transport-node'
import type { KV } from '@nats-io/kv'
import {
  countedFailure,
  FAILURE_WINDOW_MS,
  parseRecord,
  SESSION_ABSOLUTE_MS,
  type FailureWindow,
  type SessionStore,
  type StoredSession,
} from '../../admin/session-store.ts'
import { isWrongRevision, lazyBucket } from './kv-buckets.ts'

interface NatsSessionStoreOptions {
  /** A connection the caller owns. */
  nc: NatsConnection
  prefix: string
  replicas: number
}

export interface NatsSessionStore extends SessionStore {
  /** Opens both buckets now (made when missing), else each is opened at its first use. */
  open(): Promise<void>
}

/** Writers racing on one client's count: a failure is given up (the local gate still limits) after this many. */
const TRIES = 50

export function natsSessionStore(options: NatsSessionStoreOptions): NatsSessionStore {
  const sessions = lazyBucket(
    options.nc,
    `${options.prefix}-sessions`,
    limits(options, SESSION_ABSOLUTE_MS, 'sessions'),
  )
  const failures = lazyBucket(
    options.nc,
    `${options.prefix}-sign-in`,
    limits(options, FAILURE_WINDOW_MS, 'sign-in failure counts'),
  )
  const read = async <T extends object>(kv: KV, key: string, fields: Array<keyof T>) => {
    const entry = await kv.get(key)
    return entry?.operation === 'PUT' ? { value: parseRecord<T>(entry.string(), fields), entry } : undefined
  }
  return {
    async open() {
      await Promise.all([sessions(), failures()])
    },
    async create(key, session) {
      await (await sessions()).create(key, JSON.stringify(session))
    },
    async get(key) {
      return (await read<StoredSession>(await sessions(), key, SESSION_FIELDS))?.value
    },
    async touch(key, used) {
      const kv = await sessions()
      const found = await read<StoredSession>(kv, key, SESSION_FIELDS)
      if (!found?.value) return
      await kv
        .update(key, JSON.stringify({ created: found.value.created, used }), found.entry.revision)
        .catch((error: unknown) => {
          if (!isWrongRevision(error)) throw error // else revoked or touched by another instance meanwhile
        })
    },
    async revoke(key) {
      await (await sessions()).delete(key)
    },
    async addFailure(key, at, windowMs) {
      const kv = await failures()
      for (let attempt = 0; attempt < TRIES; attempt++) {
        const found = await read<FailureWindow>(kv, key, WINDOW_FIELDS)
        const window = countedFailure(found?.value, at, windowMs)
        try {
          if (found) await kv.update(key, JSON.stringify(window), found.entry.revision)
          else await kv.create(key, JSON.stringify(window))
          return window
        } catch (error) {
          if (!isWrongRevision(error)) throw error
        }
      }
      throw new Error('too many instances counting one client at once')
    },
    async failures(key, at) {
      const window = (await read<FailureWindow>(await failures(), key, WINDOW_FIELDS))?.value
      return window && window.until > at ? window : undefined
    },
  }
}

const SESSION_FIELDS: Array<keyof StoredSession> = ['created', 'used']
const WINDOW_FIELDS: Array<keyof FailureWindow> = ['failures', 'until']

/** A bucket of small records that a key's age ends (see the module's comment). */
function limits(options: NatsSessionStoreOptions, ttlMs: number, what: string) {
  return {
    replicas: options.replicas,
    maxValueSize: 256,
    // A full bucket refuses new keys: sign-ins fail (503) and failures fall back to each instance's count.
    maxValues: 100_000,
    ttlMs,
    description: `hookcast: the live page's ${what}, shared by every instance`,
  }
}
