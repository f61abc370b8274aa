/** The NATS queue's sweep of events no delivery refers to (a put that died between its event and its deliveries). */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { connect } from '@nats-io/transport-node'
import { jetstream } from '@nats-io/jetstream'
import { parseJsonHook } from '../../../src/events/parse.ts'
import { silentLogger } from '../../../src/log.ts'
import { openNatsQueue } from '../../../src/backends/nats/queue.ts'
import { natsNames } from '../../../src/backends/nats/queue-names.ts'
import { eventHeaders } from '../../../src/backends/nats/messages.ts'
import { PAYLOADS } from '../../support/hooks.ts'
import { startNatsServer, type NatsTestServer } from '../../support/nats-server.ts'
import { eventMeta } from '../../../src/queue/loaded-event.ts'

let server: NatsTestServer
beforeAll(async () => {
  server = await startNatsServer()
})
afterAll(() => server?.remove())

const event = (n: number) =>
  parseJsonHook(
    new TextEncoder().encode(JSON.stringify({ ...PAYLOADS.feedsEnded, timestamp: 1_700_000_000_000 + n })),
    { source: 'millicast', receivedAt: Date.now() },
  )

it('removes old events whose deliveries were never stored, and keeps pending and young ones', async () => {
  const queue = await openNatsQueue({
    servers: [server.url],
    prefix: 'sweep',
    dedupWindowMs: 60_000,
    sweepEveryMs: 0,
    log: silentLogger,
  })
  const nc = await connect({ servers: server.url })
  try {
    const [pending, done, orphan] = [await event(1), await event(2), await event(3)]
    await queue.put(pending, ['disk', 'hook'])
    await queue.put(done, ['disk'])
    for (const claim of await queue.claim({ destination: 'disk', max: 10, leaseMs: 10_000 })) {
      if (claim.eventId === done.id) await queue.ack(claim)
      else await queue.retry(claim, Date.now()) // given back
    }
    // As a put that stopped after its event: the copy is stored, its deliveries are not.
    await jetstream(nc).publish(natsNames('sweep').event(orphan.id), orphan.body, {
      headers: eventHeaders(eventMeta(orphan), { group: ['disk'] }),
    })
    expect((await queue.stats()).pendingEvents).toBe(2)

    expect(await queue.sweepOrphans()).toEqual({ checked: 0, removed: 0 }) // younger than the dedup window + 10 min
    expect(await queue.sweepOrphans(0)).toEqual({ checked: 2, removed: 1 })
    expect(await queue.sweepOrphans(0)).toEqual({ checked: 1, removed: 0 })
    expect((await queue.stats()).pendingEvents).toBe(1)
    const claims = await queue.claim({ max: 10, leaseMs: 10_000 })
    expect(claims.map((c) => `${c.eventId}>${c.destination}`).sort()).toEqual([
      `${pending.id}>disk`,
      `${pending.id}>hook`,
    ])
    for (const c of claims) expect((await queue.load(c)).id).toBe(pending.id)
  } finally {
    await nc.close()
    await queue.close()
  }
})
