/**
 * Setting up at start waits for a slow server: creating a JetStream stream or a KV bucket writes to disk and, with
 * replicas, waits for a quorum, which on a busy server takes longer than the 5 s a request gets once the gateway runs
 * (a loaded run's gateway failed to start on it). A proxy holds the first stream-create request for 6 s. A start
 * on what exists also waits: two loaded runs' gateways failed to start with a bare "TimeoutError: timeout" when the
 * server stalled on one of the requests that open a bucket, read the signing key or list the streams.
 */
import { join } from 'node:path'
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { connect } from '@nats-io/transport-node'
import { openBucket } from '../../../src/backends/nats/kv-buckets.ts'
import { natsSigningKeyStore } from '../../../src/backends/nats/signing-key.ts'
import { SIGNING_KEY_BYTES } from '../../../src/streams/signing-key.ts'
import { openNatsQueue, type NatsQueue } from '../../../src/backends/nats/queue.ts'
import { silentLogger } from '../../../src/log.ts'
import { createGateway } from '../../../src/gateway.ts'
import { parseConfig } from '../../../src/config/load.ts'
import { SECRET } from '../../support/hooks.ts'
import { tempDir } from '../../support/files.ts'
import { natsForTests } from './nats-for-tests.ts'

const server = natsForTests()
const HOLD_MS = 6_000
const dir = tempDir('hookcast-nats-slow-setup-')

/** Whether to hold from this client chunk on, given the JetStream API requests sent so far (this one's included). */
type HoldFrom = (chunk: Buffer, apiRequests: number) => boolean

interface SlowProxy {
  url: string
  /** JetStream API requests the clients sent through it so far. */
  apiRequests(): number
  /** Requests it dropped (see `drop`). */
  dropped(): number
  close(): Promise<void>
}

/**
 * A TCP proxy to nats-server that, from the first client chunk `holdFrom` picks on, holds every client's bytes for
 * HOLD_MS and then passes them on in order: a server that stalls, as one on a busy disk does. With `drop`, the first
 * request to a subject starting with it never reaches the server: one the server leaves unanswered.
 */
async function slowProxy(target: string, holdFrom: HoldFrom, drop?: string): Promise<SlowProxy> {
  const { port, hostname } = new URL(target)
  const sockets = new Set<Socket>()
  let apiRequests = 0
  let heldUntil = 0
  let dropped = 0
  const proxy: Server = createServer((client) => {
    const upstream = tcpConnect(Number(port), hostname)
    sockets.add(client).add(upstream)
    const held: Buffer[] = []
    client.on('data', (data: Buffer) => {
      let chunk = data
      if (drop && dropped === 0) {
        const rest = withoutMessage(chunk, drop)
        if (rest) [chunk, dropped] = [rest, 1]
      }
      apiRequests += chunk.toString('latin1').split('$JS.API.').length - 1
      if (heldUntil === 0 && holdFrom(chunk, apiRequests)) heldUntil = Date.now() + HOLD_MS
      const wait = heldUntil - Date.now()
      if (wait <= 0 && held.length === 0) return void upstream.write(chunk)
      if (held.push(chunk) === 1) setTimeout(() => upstream.write(Buffer.concat(held.splice(0))), Math.max(wait, 0))
    })
    upstream.on('data', (chunk) => client.write(chunk))
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      a.on('error', () => b.destroy())
      a.on('close', () => b.destroy())
    }
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  const address = proxy.address() as { port: number }
  return {
    url: `nats://127.0.0.1:${address.port}`,
    apiRequests: () => apiRequests,
    dropped: () => dropped,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => proxy.close(resolve))
    },
  }
}

/** The chunk without its first (H)PUB to a subject starting with `subject`; undefined when it holds none whole. */
function withoutMessage(chunk: Buffer, subject: string): Buffer | undefined {
  const text = chunk.toString('latin1')
  const match = new RegExp(`(^|\r\n)(H?PUB ${subject.replace(/[$.]/g, '\\$&')}[^\r]*)\r\n`).exec(text)
  if (!match) return undefined
  const start = match.index + match[1]!.length
  const end = start + match[2]!.length + 2 + Number(match[2]!.split(' ').at(-1)) + 2
  if (end > chunk.length) return undefined
  return Buffer.concat([chunk.subarray(0, start), chunk.subarray(end)])
}

const atStreamCreate = (chunk: Buffer) => chunk.includes('$JS.API.STREAM.CREATE')

let cleanups: Array<() => Promise<unknown>> = []
afterAll(() => dir.remove())
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {})
  cleanups = []
})

describe('setting up on a slow NATS server', () => {
  it('makes a KV bucket whose creation takes longer than a request may', async () => {
    const proxy = await slowProxy(server.url(), atStreamCreate)
    cleanups.push(proxy.close)
    const nc = await connect({ servers: proxy.url, maxReconnectAttempts: 0 })
    cleanups.push(() => nc.close())
    const started = Date.now()
    const bucket = await openBucket(nc, 'slow-setup', { replicas: 1, maxValueSize: 64, description: 'test' })
    expect(Date.now() - started).toBeGreaterThanOrEqual(HOLD_MS - 100) // the hold was in its way
    await bucket.kv.put('key', 'value')
    expect((await bucket.kv.get('key'))?.string()).toBe('value')
  })

  it("makes the queue's JetStream streams when their creation takes longer than a request may", async () => {
    const proxy = await slowProxy(server.url(), atStreamCreate)
    cleanups.push(proxy.close)
    const started = Date.now()
    const queue: NatsQueue = await openNatsQueue({
      servers: [proxy.url],
      prefix: 'slowsetup',
      dedupWindowMs: 60_000,
      log: silentLogger,
    })
    cleanups.push(() => queue.close())
    expect(Date.now() - started).toBeGreaterThanOrEqual(HOLD_MS - 100)
    expect(await queue.stats()).toMatchObject({ pendingEvents: 0, pendingDeliveries: 0 })
  })

  it('starts a gateway on existing streams and buckets whichever of its setup requests the server stalls on', async () => {
    const config = (servers: string) =>
      parseConfig(
        `
sources:
  millicast: { path: /hooks/millicast, secrets: ["${SECRET}"] }
sinks:
  disk: { type: fs, dir: "${join(dir.path, 'data')}" }
routes:
  - to: [disk]
spool: { type: nats, servers: ["${servers}"], prefix: stalled }
admin: { token: admin-token-of-the-test-0123456789 }
`,
        {},
      )
    const start = async (holdFrom: HoldFrom) => {
      const proxy = await slowProxy(server.url(), holdFrom)
      cleanups.push(proxy.close)
      const gateway = await createGateway(config(proxy.url), { log: silentLogger })
      cleanups.push(() => gateway.close(500))
      return proxy.apiRequests()
    }
    // The first start makes everything; the second counts the requests a start on what exists makes.
    await start(() => false)
    const requests = await start(() => false)
    expect(requests).toBeGreaterThan(3)
    // Then one start per request, all at once, each on a server that stalls from that request on.
    const stalled = Array.from({ length: requests }, (_, i) => i + 1)
    const started = Date.now()
    await Promise.all(stalled.map((n) => start((_chunk, sent) => sent >= n)))
    expect(Date.now() - started).toBeGreaterThanOrEqual(HOLD_MS - 100)
  })

  it('opens a bucket whose first read the server leaves unanswered, as it may for one another instance has just made', async () => {
    const proxy = await slowProxy(server.url(), () => false, '$JS.API.DIRECT.GET.')
    cleanups.push(proxy.close)
    const nc = await connect({ servers: proxy.url, maxReconnectAttempts: 0 })
    cleanups.push(() => nc.close())
    const key = await natsSigningKeyStore({ nc, bucket: 'dropped-read' }).getOrCreate()
    expect(proxy.dropped()).toBe(1)
    expect(key.byteLength).toBeGreaterThanOrEqual(SIGNING_KEY_BYTES)
  })
})
