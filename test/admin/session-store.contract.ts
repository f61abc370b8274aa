/**
 * The contract every session store passes: sessions kept, touched and revoked, a touch never bringing back a revoked
 * session, failure windows that open, count and end, and counts that no two concurrent writers lose; for a store
 * that several instances share, all of it seen from another instance.
 */
import { describe, expect, it } from 'vitest'
import { storeKey, type SessionStore } from '../../src/admin/session-store.ts'
import { skipWhen } from '../support/skip.ts'

export interface SessionStoreContract {
  name: string
  /** A store over fresh, empty storage. */
  open(): SessionStore
  /** Another instance's store over the last one's storage; absent for a store that lives in one process. */
  openAgain?(): SessionStore
}

const T0 = 1_700_000_000_000
const WINDOW = 60_000
const key = () => storeKey(crypto.randomUUID())

export function sessionStoreContract(target: SessionStoreContract): void {
  const shared = !target.openAgain && `the ${target.name} store lives in one process`
  /** The store that reads what `writer` wrote: another instance's when there can be one. */
  const reader = (writer: SessionStore) => target.openAgain?.() ?? writer

  describe(`${target.name} session store contract`, () => {
    it('keeps a session until it is revoked; touch writes a later use', async () => {
      const store = target.open()
      const [id, unknown] = [await key(), await key()]
      await store.create(id, { created: T0, used: T0 })
      expect(await store.get(id)).toEqual({ created: T0, used: T0 })
      expect(await store.get(unknown)).toBeUndefined()
      await store.touch(id, T0 + 5_000)
      expect(await reader(store).get(id)).toEqual({ created: T0, used: T0 + 5_000 })
      await reader(store).revoke(id)
      expect(await store.get(id)).toBeUndefined()
      await store.touch(id, T0 + 9_000)
      expect(await store.get(id)).toBeUndefined()
      await store.revoke(unknown) // nothing there: no error
    })

    it('a touch racing a revoke never brings the session back', async () => {
      const store = target.open()
      // Instances ready before the race (their clients connected), so their reads come before the revoke lands.
      const others = Array.from({ length: 4 }, () => reader(store))
      const revoker = reader(store)
      await Promise.all([...others, revoker].map(async (other) => other.get(await key())))
      // The revoke starts a little later each round, so that it lands between some touch's read and write.
      for (let round = 0; round < 8; round++) {
        const id = await key()
        await store.create(id, { created: T0, used: T0 })
        const later = new Promise((resolve) => setTimeout(resolve, round * 4)).then(() => revoker.revoke(id))
        await Promise.all([
          ...others.map((other, i) => other.touch(id, T0 + i + 1)),
          later,
          ...others.map((other, i) => other.touch(id, T0 + i + 10)),
        ])
        expect(await store.get(id)).toBeUndefined()
      }
    })

    it('opens a failure window with the first failure, counts in it, and opens a new one after its end', async () => {
      const store = target.open()
      const client = await key()
      expect(await store.failures(client, T0)).toBeUndefined()
      expect(await store.addFailure(client, T0, WINDOW)).toEqual({ failures: 1, until: T0 + WINDOW })
      expect(await store.addFailure(client, T0 + 10_000, WINDOW)).toEqual({ failures: 2, until: T0 + WINDOW })
      expect(await reader(store).failures(client, T0 + 20_000)).toEqual({ failures: 2, until: T0 + WINDOW })
      expect(await store.failures(client, T0 + WINDOW)).toBeUndefined()
      expect(await store.addFailure(client, T0 + WINDOW, WINDOW)).toEqual({ failures: 1, until: T0 + 2 * WINDOW })
      expect(await store.failures(await key(), T0)).toBeUndefined() // another client
    })

    it('counts every one of concurrent failures once, whichever instance counts it', async () => {
      const store = target.open()
      const client = await key()
      const instances = [store, ...Array.from({ length: 3 }, () => reader(store))]
      const windows = await Promise.all(
        Array.from({ length: 12 }, (_, i) => instances[i % instances.length]!.addFailure(client, T0, WINDOW)),
      )
      expect(windows.map((window) => window.failures).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 12 }, (_, i) => i + 1),
      )
      expect(await reader(store).failures(client, T0 + 1)).toEqual({ failures: 12, until: T0 + WINDOW })
    })

    it('a session made by one instance is honoured and revoked by another', skipWhen(shared), async () => {
      const [a, b] = [target.open(), target.openAgain!()]
      const id = await key()
      await a.create(id, { created: T0, used: T0 })
      expect(await b.get(id)).toEqual({ created: T0, used: T0 })
      await b.revoke(id)
      expect(await a.get(id)).toBeUndefined()
      expect(await target.openAgain!().get(id)).toBeUndefined()
    })
  })
}
