/**
 * The session store contract against NATS KV on a real nats-server: each `open` a prefix of its own, `openAgain`
 * the same prefix through another connection (another instance).
 */
import { beforeAll, describe, expect, it } from 'vitest'
import type { NatsConnection } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { natsSessionStore } from '../../../src/backends/nats/session-store.ts'
import { SESSION_ABSOLUTE_MS, storeKey } from '../../../src/admin/session-store.ts'
import { natsForTests } from './nats-for-tests.ts'
import { sessionStoreContract } from '../../admin/session-store.contract.ts'

const server = natsForTests()
/** Instances: one connection each. */
const connections: NatsConnection[] = []
beforeAll(async () => {
  for (let i = 0; i < 4; i++) connections.push(await server.connect())
})

let prefixes = 0
let turn = 0
const instance = () => connections[turn++ % connections.length]!

sessionStoreContract({
  name: 'nats',
  open: () => natsSessionStore({ nc: instance(), prefix: `s${++prefixes}`, replicas: 1 }),
  openAgain: () => natsSessionStore({ nc: instance(), prefix: `s${prefixes}`, replicas: 1 }),
})

describe('nats session store', () => {
  it('keeps sessions under their hash in a bucket that forgets them after the longest a session lives', async () => {
    const store = natsSessionStore({ nc: connections[0]!, prefix: 'hashed', replicas: 1 })
    const id = 'a-session-id-that-must-not-be-stored'
    await store.create(await storeKey(id), { created: 1, used: 1 })
    const jsm = await jetstreamManager(connections[0]!)
    const info = await jsm.streams.info('KV_hashed-sessions')
    expect(info.config.max_age).toBe(SESSION_ABSOLUTE_MS * 1_000_000)
    const stored = await jsm.streams.getMessage('KV_hashed-sessions', { last_by_subj: '$KV.hashed-sessions.>' })
    expect(stored?.subject).toBe(`$KV.hashed-sessions.${await storeKey(id)}`)
    expect(stored?.string()).not.toContain(id)
  })

  it('opens both buckets when asked, before any use, so a first burst of sign-ins does not wait on the opens', async () => {
    const store = natsSessionStore({ nc: connections[0]!, prefix: 'early', replicas: 1 })
    const jsm = await jetstreamManager(connections[0]!)
    const names = async () => (await jsm.streams.names().next()).filter((name) => name.startsWith('KV_early-'))
    expect(await names()).toEqual([])
    await store.open()
    expect((await names()).sort()).toEqual(['KV_early-sessions', 'KV_early-sign-in'])
  })
})
