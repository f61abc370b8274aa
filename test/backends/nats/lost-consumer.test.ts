/**
 * A destination's consumer deleted behind the NATS queue's back (an operator's `nats consumer rm`, a stream
 * restored from a backup): the queue's claims find no answer from it, forget that they made it, and make it again,
 * so the deliveries waiting in the work-queue stream (kept there without a consumer) are claimed after all.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import { parseJsonHook } from '../../../src/events/parse.ts'
import type { HookEvent } from '../../../src/events/types.ts'
import { silentLogger } from '../../../src/log.ts'
import { openNatsQueue } from '../../../src/backends/nats/queue.ts'
import { natsNames } from '../../../src/backends/nats/queue-names.ts'
import { PAYLOADS } from '../../support/hooks.ts'
import { startNatsServer, type NatsTestServer } from '../../support/nats-server.ts'
import { eventually } from '../../support/wait.ts'

let server: NatsTestServer
let nc: NatsConnection
let jsm: JetStreamManager
beforeAll(async () => {
  server = await startNatsServer()
  nc = await connect({ servers: server.url })
  jsm = await jetstreamManager(nc)
})
afterAll(async () => {
  await nc?.close()
  await server?.remove()
})

let counter = 0
const event = (): Promise<HookEvent> =>
  parseJsonHook(
    new TextEncoder().encode(JSON.stringify({ ...PAYLOADS.feedsStarted, timestamp: 1_700_000_000_000 + counter++ })),
    { source: 'millicast', receivedAt: Date.now() },
  )

it('makes a deleted consumer again and claims the deliveries that waited for it', async () => {
  const prefix = 'lost'
  const names = natsNames(prefix)
  const queue = await openNatsQueue({
    servers: [server.url],
    prefix,
    dedupWindowMs: 60_000,
    sweepEveryMs: 0,
    log: silentLogger,
  })
  try {
    const before = await event()
    await queue.put(before, ['disk']) // makes the consumer of `disk`
    await jsm.consumers.delete(names.jetStreams.deliveries, names.consumer('disk'))
    await expect(jsm.consumers.info(names.jetStreams.deliveries, names.consumer('disk'))).rejects.toThrow(/not found/i)
    const after = await event()
    await queue.put(after, ['disk']) // kept by the stream, no consumer to hand it out

    const claimed: string[] = []
    await eventually(async () => {
      for (const claim of await queue.claim({ destination: 'disk', max: 10, leaseMs: 60_000, waitMs: 200 })) {
        expect((await queue.load(claim)).id).toBe(claim.eventId)
        await queue.ack(claim)
        claimed.push(claim.eventId)
      }
      return claimed.length >= 2
    }, 30_000)
    expect(claimed.sort()).toEqual([before.id, after.id].sort())
    const made = await jsm.consumers.info(names.jetStreams.deliveries, names.consumer('disk'))
    expect(made.config.durable_name).toBe(names.consumer('disk'))
    expect((await queue.stats()).pendingDeliveries).toBe(0)
  } finally {
    await queue.close()
  }
}, 60_000)
