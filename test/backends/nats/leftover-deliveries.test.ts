/**
 * nats-server 2.9 killed right after deliveries were acknowledged keeps some of them in the work-queue stream: its
 * consumer's state on disk says acknowledged (the ack floor is past them), the stream's removals were not written.
 * It never hands them out again; left there, they would count as pending forever and keep their events' copies.
 * The queue removes them when it opens and whenever the connection is back.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { connect } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { openNatsQueue, type NatsQueue } from '../../../src/backends/nats/queue.ts'
import { natsNames } from '../../../src/backends/nats/queue-names.ts'
import { parseJsonHook } from '../../../src/events/parse.ts'
import { createLogger } from '../../../src/log.ts'
import type { Claim } from '../../../src/queue/types.ts'
import { PAYLOADS } from '../../support/hooks.ts'
import { startNatsServer, type NatsTestServer } from '../../support/nats-server.ts'
import { eventually } from '../../support/wait.ts'

const PREFIX = 'leftover'
const names = natsNames(PREFIX)
const EVENTS = 200
/**
 * Kills that left nothing behind are tried again until this long has gone by: whether one does depends on how soon
 * after the acks the kill lands, and a loaded machine makes that later.
 */
const TRYING_MS = 90_000

const cleanup: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step()
})

interface Opened {
  queue: NatsQueue
  warnings: string[]
}

async function open(server: NatsTestServer): Promise<Opened> {
  const warnings: string[] = []
  const queue = await openNatsQueue({
    servers: [server.url],
    prefix: PREFIX,
    dedupWindowMs: 0,
    ackWaitMs: 3_000,
    sweepEveryMs: 0,
    log: createLogger('warn', (line) => warnings.push(JSON.parse(line).msg as string)),
  })
  cleanup.push(() => queue.close())
  return { queue, warnings }
}

/**
 * Puts EVENTS events for `disk` and claims them all; acknowledges all but the last (a stream emptied by its acks is
 * written at once), one after the other, then kills nats-server. (Acknowledged all at once, in one burst, they were
 * all written before the kill in 72 tries of 72 here.)
 */
async function deliverAndKill(server: NatsTestServer, queue: NatsQueue): Promise<void> {
  for (let n = 0; n < EVENTS; n++) {
    const body = new TextEncoder().encode(JSON.stringify({ ...PAYLOADS.feedsStarted, n }))
    await queue.put(await parseJsonHook(body, { source: 'millicast', receivedAt: Date.now() }), ['disk'])
  }
  const claims: Claim[] = []
  while (claims.length < EVENTS)
    claims.push(...(await queue.claim({ destination: 'disk', max: EVENTS, leaseMs: 30_000, waitMs: 2_000 })))
  for (const claim of claims.slice(0, -1)) await queue.ack(claim)
  await server.kill()
}

/** What the server holds: delivery messages, those at or below the ack floor, and event copies. */
async function held(server: NatsTestServer) {
  const nc = await connect({ servers: server.url, maxReconnectAttempts: 0 })
  try {
    const jsm = await jetstreamManager(nc)
    const deliveries = (await jsm.streams.info(names.jetStreams.deliveries)).state
    const floor = (await jsm.consumers.info(names.jetStreams.deliveries, names.consumer('disk'))).ack_floor.stream_seq
    let acked = 0
    for (let seq = deliveries.first_seq; deliveries.messages > 0 && seq <= floor; seq++)
      if (await jsm.streams.getMessage(names.jetStreams.deliveries, { seq }).catch(() => null)) acked++
    const events = (await jsm.streams.info(names.jetStreams.events)).state.messages
    return { deliveries: deliveries.messages, acked, events }
  } finally {
    await nc.close()
  }
}

/**
 * Kills nats-server right after acks until a kill leaves acknowledged deliveries behind, each try on a server of its
 * own: a kill can instead lose the acks whole (the consumer's ack floor stays where it was, and every delivery is
 * pending again, which is no leftover), and a server that did so once went on doing so at every kill here.
 * `whileDown` runs with the server down (closing the queue, or not); `provoked` tells, with it back, whether it worked.
 */
async function killUntilLeftBehind<T>(
  whileDown: (queue: NatsQueue) => Promise<void>,
  provoked: (server: NatsTestServer, opened: Opened) => Promise<T | undefined>,
): Promise<{ server: NatsTestServer; result: T }> {
  let tries = 0
  for (const until = Date.now() + TRYING_MS; Date.now() < until; tries++) {
    const server = await startNatsServer()
    cleanup.push(() => server.remove())
    const opened = await open(server)
    await deliverAndKill(server, opened.queue)
    await whileDown(opened.queue)
    await server.start()
    const result = await provoked(server, opened)
    if (result !== undefined) return { server, result }
    await opened.queue.close()
    await server.remove()
  }
  throw new Error(`no kill in ${tries} left an acknowledged delivery behind`)
}

describe('deliveries nats-server kept after their ack', () => {
  it('are removed when the queue opens, and the copies they held go with the next sweep', async () => {
    const { server, result: left } = await killUntilLeftBehind(
      (queue) => queue.close(), // before the server is back: this queue does not look for them
      async (server) => {
        const left = await held(server)
        return left.acked > 0 ? left : undefined
      },
    )

    const { queue, warnings } = await open(server)
    await eventually(async () => (await held(server)).acked === 0, 20_000, 200)
    expect(warnings).toContain(
      'removed deliveries that NATS had kept after they were acknowledged (nats-server crashed)',
    )
    // Every one above the floor is still there (the last, never acknowledged, and any whose ack the kill lost) and
    // is handed out again; then nothing is left.
    let again = 0
    while (((await queue.stats()).destinations.disk ?? 0) > 0) {
      const claims = await queue.claim({ destination: 'disk', max: EVENTS, leaseMs: 30_000, waitMs: 2_000 })
      for (const claim of claims) await queue.ack(claim)
      again += claims.length
    }
    expect(again).toBe(left.deliveries - left.acked)
    await queue.sweepOrphans(0)
    expect(await held(server)).toEqual({ deliveries: 0, acked: 0, events: 0 })
    expect((await queue.stats()).pendingDeliveries).toBe(0)
  }, 240_000)

  it('are removed by a queue that stays open while nats-server is killed', async () => {
    const { result: removed } = await killUntilLeftBehind(
      async () => {},
      async (server, { queue, warnings }) => {
        // Back: the queue looks once it reconnected; a kill that left nothing behind has nothing to report.
        await eventually(() => queue.connected(), 20_000)
        await eventually(async () => (await held(server)).acked === 0, 20_000, 200)
        return warnings.some((msg) => msg.startsWith('removed deliveries that NATS had kept')) || undefined
      },
    )
    expect(removed).toBe(true)
  }, 240_000)
})
