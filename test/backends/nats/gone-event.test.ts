/**
 * A claimed delivery whose event copy is gone. Either another instance made the delivery (the server gave it the
 * message once it thought this one gone: NATS restarted, or this one stalled past the ack wait) and removed the copy
 * after it: this claim is stale, nothing is lost, and it is not an error. Or the delivery message is still queued
 * (published again after nats-server forgot its id): it cannot be made, it is dropped, and that is an error.
 * A late holder's retry must not bring the first case back as the second: a loaded chaos run's instance, whose
 * attempt outlived a NATS restart, published its retry after another had made the delivery and removed the copy.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { headers } from '@nats-io/transport-node'
import { openNatsQueue, type NatsQueue } from '../../../src/backends/nats/queue.ts'
import { natsNames } from '../../../src/backends/nats/queue-names.ts'
import { parseJsonHook } from '../../../src/events/parse.ts'
import { createLogger } from '../../../src/log.ts'
import { LeaseLostError, type Claim } from '../../../src/queue/types.ts'
import { PAYLOADS } from '../../support/hooks.ts'
import { natsForTests } from './nats-for-tests.ts'

const server = natsForTests()
let queues: NatsQueue[] = []
afterEach(async () => {
  await Promise.all(queues.map((queue) => queue.close()))
  queues = []
})

/** A queue with one delivery to `disk` claimed, the sequences of its event copy and delivery message, and its log. */
async function claimedDelivery(prefix: string) {
  const lines: Array<{ level: string; msg: string }> = []
  const queue = await openNatsQueue({
    servers: [server.url()],
    prefix,
    dedupWindowMs: 60_000,
    log: createLogger('debug', (line) => lines.push(JSON.parse(line))),
  })
  queues.push(queue)
  const event = await parseJsonHook(new TextEncoder().encode(JSON.stringify(PAYLOADS.feedsStarted)), {
    source: 'millicast',
    receivedAt: Date.now(),
  })
  await queue.put(event, ['disk'])
  const [claim] = await queue.claim({ destination: 'disk', max: 1, leaseMs: 30_000, waitMs: 5_000 })
  const jsm = await jetstreamManager(await server.connect())
  const names = natsNames(prefix)
  const copy = await jsm.streams.getMessage(names.jetStreams.events, { last_by_subj: names.event(event.id) })
  const delivery = await jsm.streams.getMessage(names.jetStreams.deliveries, {
    last_by_subj: names.delivery('disk', copy!.seq),
  })
  const remove = (stream: string, seq: number) => jsm.streams.deleteMessage(stream, seq, false)
  const js = jetstream(await server.connect())
  return {
    queue,
    claim: claim as Claim,
    lines,
    removeCopy: () => remove(names.jetStreams.events, copy!.seq),
    removeDelivery: () => remove(names.jetStreams.deliveries, delivery!.seq),
    /** The same delivery message published again (no id: as after nats-server forgot the put's). */
    publishDeliveryAgain() {
      const again = headers()
      for (const key of delivery!.header.keys())
        if (key !== 'Nats-Msg-Id') for (const value of delivery!.header.values(key)) again.append(key, value)
      return js.publish(delivery!.subject, delivery!.data, { headers: again })
    },
    deliveryLeft: async () =>
      (await jsm.streams.getMessage(names.jetStreams.deliveries, { seq: delivery!.seq }).catch(() => null)) !== null,
  }
}

describe('a claimed delivery whose event is gone from NATS', () => {
  it('is a lost claim, not an error, when another instance made the delivery and removed the copy', async () => {
    const held = await claimedDelivery('gone-made')
    // What the other instance did: its ack removed the delivery message, and the copy went after it.
    await held.removeDelivery()
    await held.removeCopy()
    await expect(held.queue.load(held.claim)).rejects.toBeInstanceOf(LeaseLostError)
    expect(held.lines.filter((line) => line.level === 'error')).toEqual([])
  })

  it('is dropped with an error when its delivery message is still queued', async () => {
    const held = await claimedDelivery('gone-queued')
    await held.removeCopy()
    const failure = await held.queue.load(held.claim).catch((error: unknown) => error)
    expect(failure).toBeInstanceOf(Error)
    expect(failure).not.toBeInstanceOf(LeaseLostError)
    expect(held.lines.filter((line) => line.level === 'error').map((line) => line.msg)).toEqual([
      'a delivery whose event is gone from NATS; dropped',
    ])
    expect(await held.deliveryLeft()).toBe(false) // acked: nothing could ever make it
  })

  it('records no retry of a claim another instance made meanwhile: nothing is published again for anyone to find gone', async () => {
    const held = await claimedDelivery('gone-retry')
    // A late holder (its attempt outlived the ack wait, or NATS restarted under it) fails after the other made it.
    await held.removeDelivery()
    await held.removeCopy()
    const attempt = { at: Date.now(), error: 'timeout' }
    await expect(held.queue.retry(held.claim, Date.now(), attempt)).rejects.toBeInstanceOf(LeaseLostError)
    expect(await held.queue.claim({ destination: 'disk', max: 1, leaseMs: 30_000, waitMs: 500 })).toEqual([])
    expect(held.lines.filter((line) => line.level === 'error')).toEqual([])
  })

  it('records a retry of a claim it holds: the delivery comes back once, with the attempt', async () => {
    const held = await claimedDelivery('retry-held')
    const attempt = { at: Date.now(), error: 'timeout' }
    await held.queue.retry(held.claim, Date.now(), attempt)
    const [again] = await held.queue.claim({ destination: 'disk', max: 1, leaseMs: 30_000, waitMs: 5_000 })
    expect(again).toMatchObject({ eventId: held.claim.eventId, attempts: [attempt] })
    expect(await held.queue.claim({ destination: 'disk', max: 1, leaseMs: 30_000, waitMs: 500 })).toEqual([])
  })

  it('gives way to a second message of the same delivery queued after the claim (a put repeated after a restart)', async () => {
    const held = await claimedDelivery('retry-repeated')
    await held.publishDeliveryAgain()
    await held.queue.retry(held.claim, Date.now(), { at: Date.now(), error: 'timeout' })
    expect(await held.deliveryLeft()).toBe(false) // acked
    const [other] = await held.queue.claim({ destination: 'disk', max: 1, leaseMs: 30_000, waitMs: 5_000 })
    expect(other).toMatchObject({ eventId: held.claim.eventId, attempts: [] })
    expect(await held.queue.claim({ destination: 'disk', max: 1, leaseMs: 30_000, waitMs: 500 })).toEqual([])
  })
})
