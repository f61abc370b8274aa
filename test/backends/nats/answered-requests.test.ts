/**
 * The NATS client builds no Error for a request that was answered (src/backends/nats/answered-requests.ts): counted
 * by swapping the client's RequestError class for a counting one, on a real nats-server. A request that fails (no
 * responder, a timeout) still fails as the client makes it fail.
 */
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { NatsConnection } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { connectNats } from '../../../src/backends/nats/connect.ts'
import { startNatsServer, type NatsTestServer } from '../../support/nats-server.ts'

/** The client's errors module: the object its request code reads RequestError from at each use. */
const require = createRequire(import.meta.url)
const errors = require(join(dirname(require.resolve('@nats-io/nats-core')), 'errors.js')) as {
  RequestError: new (...args: never[]) => Error
}

/** Runs `work` with RequestError counting its instances; resolves how many were made. */
async function requestErrorsMadeBy(work: () => Promise<void>): Promise<number> {
  const original = errors.RequestError
  let made = 0
  errors.RequestError = class extends original {
    constructor(...args: never[]) {
      super(...args)
      made++
    }
  }
  try {
    await work()
  } finally {
    errors.RequestError = original
  }
  return made
}

describe('requests to NATS', () => {
  let server: NatsTestServer
  let nc: NatsConnection
  beforeAll(async () => {
    server = await startNatsServer()
    nc = await connectNats({ servers: [server.url] })
    nc.subscribe('echo', {
      callback: (_err, msg) => {
        msg.respond(msg.data)
      },
    })
    nc.subscribe('silent', { callback: () => {} })
  })
  afterAll(async () => {
    await nc?.close()
    await server?.remove()
  })

  it('answered ones build no RequestError: plain requests and JetStream API calls', async () => {
    const jsm = await jetstreamManager(nc)
    const made = await requestErrorsMadeBy(async () => {
      for (let i = 0; i < 200; i++) expect((await nc.request('echo', `#${i}`)).string()).toBe(`#${i}`)
      for (let i = 0; i < 20; i++) expect((await jsm.getAccountInfo()).limits).toBeDefined()
    })
    expect(made).toBe(0)
  })

  it('failed ones still fail as the client makes them fail (and the count sees the errors it makes)', async () => {
    const made = await requestErrorsMadeBy(async () => {
      await expect(nc.request('nobody.listens', 'x')).rejects.toThrow(/no responders/i)
      await expect(nc.request('silent', 'x', { timeout: 200 })).rejects.toThrow(/timeout/i)
    })
    expect(made).toBe(1) // the no-responders failure, wrapped in a RequestError by the client
  })
})
