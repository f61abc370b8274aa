/**
 * A claimed delivery whose event copy is gone. Either another instance made the delivery (the server gave it the
 * message once it thought this one gone: NATS restarted, or this one stalled past the ack wait) and removed the copy
 * after it: this claim is stale, nothing is lost, and it is not an error. Or the delivery message is still queued
 * (published again after nats-server forgot its id): it cannot be made, it is dropped, and that is an error.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { jetstreamManager } from '@nats-io/jetstream'
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
  return {
    queue,
    claim: claim as Claim,
    lines,
    removeCopy: () => remove(names.jetStreams.events, copy!.seq),
    removeDelivery: () => remove(names.jetStreams.deliveries, delivery!.seq),
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
})
