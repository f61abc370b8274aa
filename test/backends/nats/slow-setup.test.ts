/**
 * Setting up at start waits for a slow server: creating a JetStream stream or a KV bucket writes to disk and, with
 * replicas, waits for a quorum, which on a busy server takes longer than the 5 s a request gets once the gateway runs
 * (a loaded run's gateway failed to start on it). A proxy holds the first stream-create request for 6 s.
 */
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { connect } from '@nats-io/transport-node'
import { openBucket } from '../../../src/backends/nats/kv-buckets.ts'
import { openNatsQueue, type NatsQueue } from '../../../src/backends/nats/queue.ts'
import { silentLogger } from '../../../src/log.ts'
import { natsForTests } from './nats-for-tests.ts'

const server = natsForTests()
const HOLD_MS = 6_000

/** A TCP proxy to nats-server that holds the client's bytes for HOLD_MS from its first stream create on (in order). */
async function slowCreateProxy(target: string): Promise<{ url: string; close(): Promise<void> }> {
  const { port, hostname } = new URL(target)
  const sockets = new Set<Socket>()
  const proxy: Server = createServer((client) => {
    const upstream = tcpConnect(Number(port), hostname)
    sockets.add(client).add(upstream)
    let heldUntil = 0
    client.on('data', (chunk) => {
      if (heldUntil === 0 && chunk.includes('$JS.API.STREAM.CREATE')) heldUntil = Date.now() + HOLD_MS
      const wait = heldUntil - Date.now()
      if (wait > 0) setTimeout(() => upstream.write(chunk), wait)
      else upstream.write(chunk)
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
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => proxy.close(resolve))
    },
  }
}

let cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {})
  cleanups = []
})

describe('setting up on a slow NATS server', () => {
  it('makes a KV bucket whose creation takes longer than a request may', async () => {
    const proxy = await slowCreateProxy(server.url())
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
    const proxy = await slowCreateProxy(server.url())
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
})
