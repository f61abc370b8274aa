/**
 * The NATS queue's stream limits: `ensureJetStreams` (backends/nats/jetstream-setup.ts) brings a stream that exists with other
 * settings in line with the options at every start, and `spool.maxBytes` caps the events stream, past which the
 * gateway answers hooks 503 (the hook is refused, not lost: the platform sees it fail) until the limit is raised.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import { parseConfig } from '../../../src/config/load.ts'
import { createGateway, type Gateway } from '../../../src/gateway.ts'
import { silentLogger } from '../../../src/log.ts'
import { natsNames } from '../../../src/backends/nats/queue-names.ts'
import { openNatsQueue, type NatsQueueOptions } from '../../../src/backends/nats/queue.ts'
import { jpeg, post, SECRET, signedThumbnail, type SignedHook } from '../../support/hooks.ts'
import { startNatsServer, type NatsTestServer } from '../../support/nats-server.ts'
import { freePort } from '../../support/ports.ts'

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

/** JetStream's durations are nanoseconds. */
const SECOND = 1_000_000_000

async function openAndClose(prefix: string, options: Partial<NatsQueueOptions>): Promise<void> {
  const queue = await openNatsQueue({
    servers: [server.url],
    prefix,
    dedupWindowMs: 60_000,
    sweepEveryMs: 0,
    log: silentLogger,
    ...options,
  })
  await queue.close()
}

describe('ensureStreams', () => {
  it('updates the limits of streams that exist with other settings', async () => {
    const prefix = 'limits'
    const { events, deliveries } = natsNames(prefix).jetStreams
    await openAndClose(prefix, { dedupWindowMs: 60_000, maxBytes: 50_000 })
    expect((await jsm.streams.info(events)).config).toMatchObject({ max_bytes: 50_000, duplicate_window: 60 * SECOND })

    await openAndClose(prefix, { dedupWindowMs: 300_000, maxBytes: 80_000 })
    expect((await jsm.streams.info(events)).config).toMatchObject({ max_bytes: 80_000, duplicate_window: 300 * SECOND })
    // The deliveries' window stays at least the events' (a repeat within it must find its deliveries' ids).
    expect((await jsm.streams.info(deliveries)).config.duplicate_window).toBe(300 * SECOND)

    await openAndClose(prefix, { dedupWindowMs: 300_000 }) // no maxBytes: no limit
    expect((await jsm.streams.info(events)).config.max_bytes).toBe(-1)
  })

  it('updates a stream someone changed by hand', async () => {
    const prefix = 'handmade'
    const { events } = natsNames(prefix).jetStreams
    await openAndClose(prefix, { maxBytes: 64_000 })
    const changed = (await jsm.streams.info(events)).config
    await jsm.streams.update(events, { ...changed, max_bytes: 1_000, max_msgs_per_subject: 5 })
    await openAndClose(prefix, { maxBytes: 64_000 })
    expect((await jsm.streams.info(events)).config).toMatchObject({ max_bytes: 64_000, max_msgs_per_subject: -1 })
  })
})

describe('spool.maxBytes on NATS', () => {
  /** A gateway whose one destination cannot be reached and retries in an hour: what it accepts stays in the stream. */
  async function gateway(maxBytes: string, unreachable: number): Promise<Gateway> {
    return createGateway(
      parseConfig(
        `
server: { maxBodyBytes: 512KiB }
sources:
  millicast: { path: /hooks/millicast, secrets: ["${SECRET}"] }
notifiers:
  hook: { type: http, url: "http://127.0.0.1:${unreachable}/in" }
routes:
  - to: [hook]
spool: { type: nats, servers: ["${server.url}"], prefix: full, maxBytes: ${maxBytes} }
delivery: { retry: { schedule: [1h], jitter: 0 } }
`,
        {},
      ),
      { log: silentLogger },
    )
  }
  const BODY_BYTES = 8_000
  const hook = (n: number) => signedThumbnail({ body: jpeg(`max-bytes-${n}`, BODY_BYTES), timestamp: Date.now() + n })
  const send = (g: Gateway, signed: SignedHook) => post('http://hookcast.test/hooks/millicast', signed, g.fetch)

  it('answers 503 once the events stream is full, and takes the hook after a restart with a larger limit', async () => {
    const unreachable = await freePort()
    const small = await gateway('30KB', unreachable)
    let accepted = 0
    let refused: { hook: SignedHook; response: Response } | undefined
    try {
      for (let n = 0; n < 10 && !refused; n++) {
        const signed = await hook(n)
        const response = await send(small, signed)
        if (response.status === 200) accepted++
        else refused = { hook: signed, response }
      }
      expect(accepted).toBeGreaterThanOrEqual(1)
      expect(accepted * BODY_BYTES).toBeLessThanOrEqual(30_000) // none past the limit
      expect(refused?.response.status).toBe(503)
      expect(refused?.response.headers.get('retry-after')).toBe('5')
      expect(((await refused!.response.json()) as { error: string }).error).toBe('spool_unavailable')
      expect((await small.queue.stats()).pendingEvents).toBe(accepted) // the accepted ones are all still there
    } finally {
      await small.close(0)
    }

    const larger = await gateway('1MB', unreachable)
    try {
      expect((await jsm.streams.info(natsNames('full').jetStreams.events)).config.max_bytes).toBe(1_000_000)
      expect((await send(larger, refused!.hook)).status).toBe(200)
      expect((await larger.queue.stats()).pendingEvents).toBe(accepted + 1)
    } finally {
      await larger.close(0)
    }
  })
})
