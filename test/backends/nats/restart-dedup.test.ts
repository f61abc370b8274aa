/**
 * Dedup across a restart of nats-server: JetStream rebuilds its duplicate window from the messages still stored,
 * and a delivered event's copy is gone, so a hook replayed after the restart would be put again. The ids of
 * completed puts are kept in a KV bucket for the window, which survives the restart.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { connectNats } from '../../../src/backends/nats/connect.ts'
import { openNatsQueue } from '../../../src/backends/nats/queue.ts'
import { natsDedupWindow } from '../../../src/backends/nats/dedup.ts'
import { parseJsonHook } from '../../../src/events/parse.ts'
import { silentLogger } from '../../../src/log.ts'
import { startNatsServer, type NatsTestServer } from '../../support/nats-server.ts'
import { PAYLOADS } from '../../support/hooks.ts'
import { eventually } from '../../support/wait.ts'

let server: NatsTestServer
beforeAll(async () => {
  server = await startNatsServer()
})
afterAll(() => server?.remove())

it('drops a hook replayed after nats-server restarted, when it was delivered before', async () => {
  const nc = await connectNats({ servers: [server.url], name: 'state' })
  const completed = natsDedupWindow({ nc, windowMs: 600_000, bucket: 'restart-dedup' })
  const queue = await openNatsQueue({
    servers: [server.url],
    prefix: 'restart',
    dedupWindowMs: 600_000,
    completed,
    log: silentLogger,
  })
  try {
    const event = await parseJsonHook(new TextEncoder().encode(JSON.stringify(PAYLOADS.feedsStarted)), {
      source: 'millicast',
      receivedAt: Date.now(),
    })
    expect(await queue.put(event, ['disk'])).toEqual({ duplicate: false })
    const [claim] = await queue.claim({ destination: 'disk', max: 1, leaseMs: 10_000 })
    await queue.ack(claim!)
    expect(await queue.put(event, ['disk'])).toEqual({ duplicate: true })

    await server.stop()
    await server.start()
    await eventually(() => queue.connected(), 20_000)
    // Both connections back (a put while the KV one is still away counts the hook as new: at least once, not lost).
    await eventually(() => completed.has(event.id).catch(() => false), 20_000)
    // The first put after the restart: answered as the duplicate it is (not stored, not delivered again).
    const again = await eventually(() => queue.put(event, ['disk']).catch(() => undefined), 20_000)
    expect(again).toEqual({ duplicate: true })
    expect(await queue.claim({ destination: 'disk', max: 1, leaseMs: 10_000, waitMs: 500 })).toEqual([])
  } finally {
    await queue.close()
    await nc.close()
  }
}, 60_000)
