/**
 * An event's copy is removed by whoever ends its last delivery, found as "no other destination has a delivery
 * message". A put that has not stored all its deliveries yet (cut off by a crash and completed by its repeat, or
 * still publishing them) looks the same: the copy must stay until the put is known complete.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { jetstream } from '@nats-io/jetstream'
import { openNatsQueue, type NatsQueue } from '../../../src/backends/nats/queue.ts'
import { natsDedupWindow } from '../../../src/backends/nats/dedup.ts'
import { memoryDedupWindow } from '../../../src/queue/dedup.ts'
import { eventually } from '../../support/wait.ts'
import { natsNames } from '../../../src/backends/nats/queue-names.ts'
import { encodeDelivery, eventHeaders } from '../../../src/backends/nats/messages.ts'
import { eventMeta } from '../../../src/queue/loaded-event.ts'
import { parseJsonHook } from '../../../src/events/parse.ts'
import { silentLogger } from '../../../src/log.ts'
import { PAYLOADS } from '../../support/hooks.ts'
import { natsForTests } from './nats-for-tests.ts'

const server = natsForTests()
let queues: NatsQueue[] = []
afterEach(async () => {
  await Promise.all(queues.map((queue) => queue.close()))
  queues = []
})

async function openQueue(prefix: string): Promise<NatsQueue> {
  const nc = await server.connect()
  const completed = natsDedupWindow({ nc, windowMs: 600_000, bucket: `${prefix}-dedup` })
  const queue = await openNatsQueue({
    servers: [server.url()],
    prefix,
    dedupWindowMs: 600_000,
    completed,
    log: silentLogger,
  })
  queues.push(queue)
  return queue
}

describe('removing an event copy', () => {
  it('keeps the copy for a put that stored one of two deliveries, so its repeat completes it', async () => {
    const prefix = 'cutoff'
    const queue = await openQueue(prefix)
    const event = await parseJsonHook(new TextEncoder().encode(JSON.stringify(PAYLOADS.feedsEnded)), {
      source: 'hookcast',
      receivedAt: Date.now(),
    })
    // A put cut off by a kill -9: the copy and the delivery to `alerts` stored, the one to `slack` never published.
    const js = jetstream(await server.connect())
    const names = natsNames(prefix)
    const group = ['alerts', 'slack']
    const stored = await js.publish(names.event(event.id), event.body, {
      headers: eventHeaders(eventMeta(event), { group }),
      msgID: event.id,
    })
    await queue.claim({ destination: 'alerts', max: 1, leaseMs: 10_000 }) // makes the consumer
    const record = { eventId: event.id, destination: 'alerts', eventSeq: stored.seq, group }
    await js.publish(
      names.delivery('alerts', stored.seq),
      encodeDelivery({ ...record, receivedAt: event.receivedAt, since: event.receivedAt, attempts: [], nextAt: 0 }),
      { msgID: `put:${stored.seq}:alerts` },
    )
    const [first] = await queue.claim({ destination: 'alerts', max: 1, leaseMs: 10_000, waitMs: 5_000 })
    await queue.load(first!)
    await queue.ack(first!)

    // The repeat (the tracker emits the transition again): the same copy, the missing delivery published.
    expect(await queue.put(event, group)).toEqual({ duplicate: true })
    const [second] = await queue.claim({ destination: 'slack', max: 1, leaseMs: 10_000, waitMs: 5_000 })
    expect(second?.eventId).toBe(event.id)
    expect((await queue.load(second!)).body).toEqual(event.body)
    await queue.ack(second!)
    expect(await queue.stats()).toMatchObject({ pendingEvents: 0, pendingDeliveries: 0 })
  })

  it('tries again when removing a finished copy fails, rather than leave it for the sweep', async () => {
    const window = memoryDedupWindow(600_000)
    let failures = 1
    const completed = {
      ...window,
      has: (id: string) => (failures-- > 0 ? Promise.reject(new Error('NATS busy')) : window.has(id)),
    }
    const queue = await openNatsQueue({
      servers: [server.url()],
      prefix: 'retried',
      dedupWindowMs: 600_000,
      completed,
      log: silentLogger,
    })
    queues.push(queue)
    const event = await parseJsonHook(new TextEncoder().encode(JSON.stringify(PAYLOADS.feedsStarted)), {
      source: 'millicast',
      receivedAt: Date.now(),
    })
    failures = 0 // the put's own look succeeds
    await queue.put(event, ['a', 'b'])
    for (const destination of ['a', 'b']) {
      const [claim] = await queue.claim({ destination, max: 1, leaseMs: 10_000, waitMs: 5_000 })
      if (destination === 'b') failures = 1 // the last delivery's look fails once
      await queue.ack(claim!)
    }
    await eventually(async () => (await queue.stats()).pendingEvents === 0, 15_000)
  })
})
