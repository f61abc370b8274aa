/**
 * Bodies larger than a stock nats-server's max_payload (1 MB): stored in chunks, so the default config
 * (server.maxBodyBytes 16 MiB) runs on `nats-server -js` as it is. A put cut off between chunks leaves no copy, so
 * no delivery ever reads part of a body; the chunks it left are swept, and its repeat stores the body whole.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { connect, headers } from '@nats-io/transport-node'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { openNatsQueue, type NatsQueue } from '../../../src/backends/nats/queue.ts'
import { natsNames } from '../../../src/backends/nats/queue-names.ts'
import { parseJsonHook } from '../../../src/events/parse.ts'
import type { HookEvent } from '../../../src/events/types.ts'
import { silentLogger } from '../../../src/log.ts'
import { jpeg, PAYLOADS, SECRET, signedThumbnail } from '../../support/hooks.ts'
import { listFiles, tempDir } from '../../support/files.ts'
import { startNatsServer, type NatsTestServer } from '../../support/nats-server.ts'
import { startServer, type RunningServer } from '../../support/runtimes.ts'
import { eventually } from '../../support/wait.ts'

let nats: NatsTestServer
beforeAll(async () => {
  nats = await startNatsServer() // max_payload: the server's default
})
afterAll(() => nats?.remove())

let queues: NatsQueue[] = []
afterEach(async () => {
  await Promise.all(queues.map((queue) => queue.close()))
  queues = []
})

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

async function bigEvent(size: number): Promise<HookEvent> {
  const parsed = await parseJsonHook(new TextEncoder().encode(JSON.stringify(PAYLOADS.feedsStarted)), {
    source: 'millicast',
    receivedAt: Date.now(),
  })
  const { data: _data, ...rest } = parsed
  return { ...rest, contentType: 'image/jpeg', body: jpeg(`big-${Math.random()}`, size) }
}

async function chunkCount(prefix: string): Promise<number> {
  const nc = await connect({ servers: nats.url })
  try {
    return (await (await jetstreamManager(nc)).streams.info(natsNames(prefix).jetStreams.chunks)).state.messages
  } finally {
    await nc.close()
  }
}

describe('bodies larger than max_payload', () => {
  it('a 5 MB thumbnail through a stock nats-server reaches an fs sink byte for byte (default config)', async () => {
    const dir = tempDir('hookcast-large-')
    const config = join(dir.path, 'config.yaml')
    writeFileSync(
      config,
      `
sources:
  millicast: { path: /hooks/millicast, secrets: ["${SECRET}"] }
sinks:
  disk: { type: fs, dir: "${join(dir.path, 'data')}", key: "{type}/{id}.{ext}" }
spool: { type: nats, servers: ["${nats.url}"] }
routes:
  - to: [disk]
`,
    )
    let gateway: RunningServer | undefined
    try {
      gateway = await startServer('node', config)
      const hook = await signedThumbnail({ body: jpeg('five-megabytes', 5 * 1024 * 1024) })
      const answer = await fetch(`${gateway.url}/hooks/millicast`, {
        method: 'POST',
        headers: hook.headers,
        body: hook.body as Uint8Array<ArrayBuffer>,
      })
      expect(answer.status).toBe(200)
      const { id } = (await answer.json()) as { id: string }
      const path = join(dir.path, 'data', 'thumbnail', `${id}.jpg`)
      await eventually(() => listFiles(join(dir.path, 'data')).includes(`thumbnail/${id}.jpg`), 30_000)
      expect(sha256(readFileSync(path))).toBe(sha256(hook.body))
      await eventually(async () => (await chunkCount('hookcast')) === 0, 30_000) // removed with the copy
    } finally {
      await gateway?.stop()
      dir.remove()
    }
  }, 120_000)

  it('a put cut off between chunks leaves nothing to deliver; its repeat delivers the whole body', async () => {
    const prefix = 'cutchunks'
    const queue = await openNatsQueue({ servers: [nats.url], prefix, dedupWindowMs: 600_000, log: silentLogger })
    queues.push(queue)
    const event = await bigEvent(3 * 1024 * 1024)
    // What a kill -9 between the second and third chunk leaves: two chunks, no copy, no delivery.
    const nc = await connect({ servers: nats.url })
    const js = jetstream(nc)
    const h = headers()
    h.set('Hookcast-Chunk-Of', natsNames(prefix).event(event.id))
    for (let at = 0; at < 2 * 900_000; at += 900_000)
      await js.publish(`${prefix}.chunks.cutoff`, event.body.subarray(at, at + 900_000), { headers: h })
    await nc.close()
    expect(await queue.claim({ destination: 'disk', max: 1, leaseMs: 10_000, waitMs: 500 })).toEqual([])
    expect(await queue.stats()).toMatchObject({ pendingEvents: 0, pendingDeliveries: 0 })

    expect(await queue.put(event, ['disk'])).toEqual({ duplicate: false })
    expect((await queue.stats()).bytes).toBeGreaterThan(event.body.byteLength) // the chunks count
    const [claim] = await queue.claim({ destination: 'disk', max: 1, leaseMs: 10_000, waitMs: 5_000 })
    expect(sha256((await queue.load(claim!)).body)).toBe(sha256(event.body))
    await queue.ack(claim!)
    expect(await chunkCount(prefix)).toBe(2) // the cut-off put's, until the sweep
    await queue.sweepOrphans(0)
    expect(await chunkCount(prefix)).toBe(0)
  }, 60_000)

  it('never hands out part of a body: a copy whose chunk is missing fails to load', async () => {
    const prefix = 'lostchunk'
    const queue = await openNatsQueue({ servers: [nats.url], prefix, dedupWindowMs: 0, log: silentLogger })
    queues.push(queue)
    const event = await bigEvent(2 * 1024 * 1024)
    await queue.put(event, ['disk'])
    const nc = await connect({ servers: nats.url })
    const jsm = await jetstreamManager(nc)
    const chunks = natsNames(prefix).jetStreams.chunks
    await jsm.streams.deleteMessage(chunks, (await jsm.streams.info(chunks)).state.last_seq)
    await nc.close()
    const [claim] = await queue.claim({ destination: 'disk', max: 1, leaseMs: 10_000, waitMs: 5_000 })
    await expect(queue.load(claim!)).rejects.toThrow(/chunk \d+ of .* is missing/)
  }, 60_000)
})
