/**
 * The signing key store contract against NATS KV on a real nats-server: each `open` a key of its own, `openAgain`
 * the same key through another connection (another instance), racing on its creation.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import type { NatsConnection } from '@nats-io/transport-node'
import { Kvm } from '@nats-io/kv'
import { natsSigningKeyStore } from '../../../src/backends/nats/signing-key.ts'
import { natsForTests } from './nats-for-tests.ts'
import { signingKeyContract } from '../../streams/signing-key.contract.ts'

const server = natsForTests()
/** Instances: one connection each. */
const connections: NatsConnection[] = []
beforeAll(async () => {
  for (let i = 0; i < 4; i++) connections.push(await server.connect())
})

let keys = 0
let turn = 0
const instance = () => connections[turn++ % connections.length]!

signingKeyContract({
  name: 'nats',
  open: () => natsSigningKeyStore({ nc: instance(), key: `key-${++keys}` }),
  openAgain: () => natsSigningKeyStore({ nc: instance(), key: `key-${keys}` }),
})

describe('nats signing key', () => {
  it('is kept as base64 in its bucket; a value that holds no usable key is replaced, once, for every instance', async () => {
    const kv = await new Kvm(connections[0]!).create('hookcast-keys')
    await kv.put('short', 'c2hvcnQ=') // 5 bytes: too short to sign with
    const replaced = await Promise.all(connections.map((nc) => natsSigningKeyStore({ nc, key: 'short' }).getOrCreate()))
    expect(replaced[0]!.byteLength).toBe(32)
    for (const key of replaced) expect(key).toEqual(replaced[0])
    expect(Buffer.from((await kv.get('short'))!.string(), 'base64')).toEqual(Buffer.from(replaced[0]!))
  })
})
