/**
 * The contract every store of the thumbnail-link signing key passes: a key of full strength, made once, the same
 * for every caller, concurrent first calls included; and, for a store that outlives its process, the same after a
 * reopen and for another instance racing on the same storage.
 */
import { describe, expect, it } from 'vitest'
import { SIGNING_KEY_BYTES, type SigningKeyStore } from '../../src/streams/signing-key.ts'
import { skipWhen } from '../support/skip.ts'

export interface SigningKeyContract {
  name: string
  /** A store over fresh, empty storage. */
  open(): SigningKeyStore
  /** Another store over the last one's storage (another instance, or the same after a restart); absent for a store that dies with its process. */
  openAgain?(): SigningKeyStore
}

export function signingKeyContract(target: SigningKeyContract): void {
  describe(`${target.name} signing key store contract`, () => {
    it('makes a key of full strength once, and gives the same one after', async () => {
      const store = target.open()
      const key = await store.getOrCreate()
      expect(key.byteLength).toBeGreaterThanOrEqual(SIGNING_KEY_BYTES)
      expect(new Set(key).size).toBeGreaterThan(8) // random, not zeros
      expect(await store.getOrCreate()).toEqual(key)
    })

    it('concurrent first calls all get the same key', async () => {
      for (let round = 0; round < 10; round++) {
        const store = target.open()
        const keys = await Promise.all(Array.from({ length: 8 }, () => store.getOrCreate()))
        for (const key of keys) expect(key).toEqual(keys[0])
      }
    })

    const single = !target.openAgain && `the ${target.name} store cannot be opened twice on one storage`
    it('instances racing on one storage all get the same key, and it survives a reopen', skipWhen(single), async () => {
      for (let round = 0; round < 10; round++) {
        const first = target.open()
        const others = Array.from({ length: 7 }, () => target.openAgain!())
        const keys = await Promise.all([first, ...others].map((store) => store.getOrCreate()))
        for (const key of keys) expect(key).toEqual(keys[0])
        expect(await target.openAgain!().getOrCreate()).toEqual(keys[0])
      }
    })

    it('a different storage has a different key', async () => {
      expect(await target.open().getOrCreate()).not.toEqual(await target.open().getOrCreate())
    })
  })
}
