/** The session store contract against the local backend's memory store, and its bounds. */
import { describe, expect, it } from 'vitest'
import { memorySessionStore } from '../../src/admin/memory-session-store.ts'
import { sessionStoreContract } from './session-store.contract.ts'

sessionStoreContract({ name: 'memory', open: () => memorySessionStore() })

describe('memory session store', () => {
  it('tracks at most maxClients failure windows, however many clients fail', async () => {
    const store = memorySessionStore({ maxClients: 100 })
    for (let i = 0; i < 1_000; i++) await store.addFailure(`client-${i}`, 0, 60_000)
    expect(store.clients).toBe(100)
    expect(await store.failures('client-999', 1)).toEqual({ failures: 1, until: 60_000 }) // the newest is kept
  })
})
