/**
 * The NATS queue's orphan sweep (backends/nats/orphan-sweep.ts) reads one page of the events stream per call (500
 * events) and goes on from where the last call stopped: orphans behind a full page of pending events are reached by
 * the next call, not never; past the young end it starts again from the oldest.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { connect } from '@nats-io/transport-node'
import { jetstream } from '@nats-io/jetstream'
import { parseJsonHook } from '../../../src/events/parse.ts'
import type { HookEvent } from '../../../src/events/types.ts'
import { silentLogger } from '../../../src/log.ts'
import { openNatsQueue } from '../../../src/backends/nats/queue.ts'
import { natsNames } from '../../../src/backends/nats/queue-names.ts'
import { eventHeaders } from '../../../src/backends/nats/messages.ts'
import { PAYLOADS } from '../../support/hooks.ts'
import { startNatsServer, type NatsTestServer } from '../../support/nats-server.ts'
import { eventMeta } from '../../../src/queue/loaded-event.ts'

/** The sweep's page, as backends/nats/queue.ts sets it. */
const PAGE = 500

let server: NatsTestServer
beforeAll(async () => {
  server = await startNatsServer()
})
afterAll(() => server?.remove())

let counter = 0
const event = (): Promise<HookEvent> =>
  parseJsonHook(
    new TextEncoder().encode(JSON.stringify({ ...PAYLOADS.feedsEnded, timestamp: 1_700_000_000_000 + counter++ })),
    { source: 'millicast', receivedAt: Date.now() },
  )

it('reaches orphans behind a full page of pending events on its next call, then starts over', async () => {
  const prefix = 'pages'
  const queue = await openNatsQueue({
    servers: [server.url],
    prefix,
    dedupWindowMs: 60_000,
    sweepEveryMs: 0,
    log: silentLogger,
  })
  const nc = await connect({ servers: server.url })
  try {
    // A first page of events whose deliveries are pending (kept by every sweep)...
    const pending: HookEvent[] = []
    for (let batch = 0; batch < PAGE / 50; batch++) {
      const events = await Promise.all(Array.from({ length: 50 }, event))
      await Promise.all(events.map((e) => queue.put(e, ['disk'])))
      pending.push(...events)
    }
    // ...then copies stored by puts that stopped before their deliveries.
    const js = jetstream(nc)
    const orphans = await Promise.all(Array.from({ length: 30 }, event))
    for (const orphan of orphans) {
      const headers = eventHeaders(eventMeta(orphan), { group: ['disk'] })
      await js.publish(natsNames(prefix).event(orphan.id), orphan.body, { headers })
    }
    expect((await queue.stats()).pendingEvents).toBe(PAGE + orphans.length)

    expect(await queue.sweepOrphans(0)).toEqual({ checked: PAGE, removed: 0 }) // the first page: all pending
    // The next page, from where the first stopped: the orphans.
    expect(await queue.sweepOrphans(0)).toEqual({ checked: orphans.length, removed: orphans.length })
    expect(await queue.sweepOrphans(0)).toEqual({ checked: PAGE, removed: 0 }) // past the end: from the oldest again
    expect((await queue.stats()).pendingEvents).toBe(PAGE)

    const claims = await queue.claim({ destination: 'disk', max: 10, leaseMs: 60_000, waitMs: 5_000 })
    expect(claims.length).toBeGreaterThan(0)
    for (const claim of claims) expect(pending.map((e) => e.id)).toContain((await queue.load(claim)).id)
  } finally {
    await nc.close()
    await queue.close()
  }
})
