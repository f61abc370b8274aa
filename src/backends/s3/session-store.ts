/**
 * The page's sessions and sign-in failure counts as small objects of the spool's bucket (`<prefix>/sessions/<hash>`,
 * `<prefix>/sign-in/<hash>`), so every invocation honours a session another made and counts every invocation's
 * failures. The end of a session or window is inside the object; changes are conditional on the ETag read, so a use
 * never brings back a revoked session and two invocations never count one failure over the other. What is over is
 * forgotten: a session object by the sign-in that finds it older than any session lives, a window when it is read
 * after its end (a lifecycle rule on `sign-in/` does it for addresses never seen again; see template.yaml).
 * @module
 */
import {
  countedFailure,
  parseRecord,
  SESSION_ABSOLUTE_MS,
  type FailureWindow,
  type SessionStore,
  type StoredSession,
} from '../../admin/session-store.ts'
import type { S3Connection } from '../../sinks/s3-client.ts'
import { listAll, s3Objects, type Objects } from './objects.ts'
import { prefixRoot } from './queue-keys.ts'

interface S3SessionStoreOptions extends S3Connection {
  /** Every key starts with `<prefix>/`. Default `hookcast`. */
  prefix?: string
}

/** Writers racing on one client's count: a failure is given up (the local gate still limits) after this many. */
const TRIES = 50

export function s3SessionStore(options: S3SessionStoreOptions): SessionStore {
  const objects = s3Objects(options)
  const root = prefixRoot(options.prefix)
  const sessionKey = (key: string) => `${root}sessions/${key}`
  const windowKey = (key: string) => `${root}sign-in/${key}`
  return {
    async create(key, session) {
      await forgetOldSessions(objects, `${root}sessions/`)
      const put = await objects.put(sessionKey(key), encode(session), { ifNoneMatch: '*' })
      if (put === 'conflict') throw new Error('a session with this id exists already')
    },
    async get(key) {
      return (await read<StoredSession>(objects, sessionKey(key), SESSION_FIELDS))?.value
    },
    async touch(key, used) {
      const found = await read<StoredSession>(objects, sessionKey(key), SESSION_FIELDS)
      if (!found?.value) return
      // A conflict: revoked or touched by another invocation meanwhile.
      await objects.put(sessionKey(key), encode({ created: found.value.created, used }), { ifMatch: found.etag })
    },
    async revoke(key) {
      await objects.delete(sessionKey(key))
    },
    async addFailure(key, at, windowMs) {
      for (let attempt = 0; attempt < TRIES; attempt++) {
        const found = await read<FailureWindow>(objects, windowKey(key), WINDOW_FIELDS)
        const window = countedFailure(found?.value, at, windowMs)
        const put = await objects.put(
          windowKey(key),
          encode(window),
          found ? { ifMatch: found.etag } : { ifNoneMatch: '*' },
        )
        if (put !== 'conflict') return window
      }
      throw new Error('too many invocations counting one client at once')
    },
    async failures(key, at) {
      const found = await read<FailureWindow>(objects, windowKey(key), WINDOW_FIELDS)
      if (found?.value && found.value.until > at) return found.value
      if (found) await objects.delete(windowKey(key), found.etag) // over: forgotten, unless counted again meanwhile
      return undefined
    },
  }
}

const SESSION_FIELDS: Array<keyof StoredSession> = ['created', 'used']
const WINDOW_FIELDS: Array<keyof FailureWindow> = ['failures', 'until']

const encode = (value: object) => new TextEncoder().encode(JSON.stringify(value))

async function read<T extends object>(objects: Objects, key: string, fields: Array<keyof T>) {
  const got = await objects.get(key)
  return got && { value: parseRecord<T>(new TextDecoder().decode(got.body), fields), etag: got.etag }
}

/** Sign-ins are rare (token holders only): each one deletes the sessions not written for longer than any lives. */
async function forgetOldSessions(objects: Objects, dir: string): Promise<void> {
  const before = Date.now() - SESSION_ABSOLUTE_MS
  for (const object of await listAll(objects, dir)) {
    if (object.lastModified < before) await objects.delete(object.key, object.etag)
  }
}
