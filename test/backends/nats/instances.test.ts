/**
 * The NATS queue shared by several instances (each its own connection, as separate processes would have): they
 * never share a delivery, a killed instance's claims go to the others once the ack wait runs out, a hook repeated to
 * another instance is dropped, and a put while NATS is down fails fast (503) and works again once it is back.
 */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { connect } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { parseJsonHook } from '../../../src/events/parse.ts'
import type { HookEvent } from '../../../src/events/types.ts'
import { silentLogger } from '../../../src/log.ts'
import { inspectNats } from '../../../src/backends/nats/connect.ts'
import { openNatsQueue, type NatsQueue, type NatsQueueOptions } from '../../../src/backends/nats/queue.ts'
import { LeaseLostError, QueueFullError, type Claim } from '../../../src/queue/types.ts'
import { PAYLOADS } from '../../support/hooks.ts'
import { natsServerVersion, startNatsServer, type NatsTestServer } from '../../support/nats-server.ts'
import { ROOT } from '../../support/runtimes.ts'
import { eventually } from '../../support/wait.ts'

let server: NatsTestServer
beforeAll(async () => {
  server = await startNatsServer()
})
afterAll(() => server?.remove())

let queues: NatsQueue[] = []
afterEach(async () => {
  await Promise.all(queues.map((queue) => queue.close()))
  queues = []
})

let prefixes = 0
const nextPrefix = () => `instances${prefixes++}`
async function instance(prefix: string, options: Partial<NatsQueueOptions> = {}): Promise<NatsQueue> {
  const queue = await openNatsQueue({
    servers: [server.url],
    prefix,
    dedupWindowMs: 60_000,
    log: silentLogger,
    ...options,
  })
  queues.push(queue)
  return queue
}

let counter = 0
function event(): Promise<HookEvent> {
  const payload = {
    ...PAYLOADS.feedsStarted,
    timestamp: 1_700_000_000_000 + counter++,
    data: { ...PAYLOADS.feedsStarted.data, n: Math.random() },
  }
  return parseJsonHook(new TextEncoder().encode(JSON.stringify(payload)), {
    source: 'millicast',
    receivedAt: Date.now(),
  })
}

describe('NATS queue shared by instances', () => {
  it('never gives one delivery to two instances claiming at once', async () => {
    const prefix = nextPrefix()
    const [a, b] = [await instance(prefix), await instance(prefix)]
    const ids: string[] = []
    for (let i = 0; i < 60; i++) {
      const e = await event()
      ids.push(e.id)
      await (i % 2 ? a : b).put(e, ['disk'])
    }
    const taken: Record<'a' | 'b', string[]> = { a: [], b: [] }
    const work = async (name: 'a' | 'b', queue: NatsQueue, destination: string | undefined) => {
      while (taken.a.length + taken.b.length < ids.length) {
        const claims = await queue.claim({
          ...(destination ? { destination } : {}),
          max: 4,
          leaseMs: 30_000,
          waitMs: 200,
        })
        for (const claim of claims) {
          taken[name].push(claim.eventId)
          await queue.ack(claim)
        }
      }
    }
    await Promise.all([work('a', a, 'disk'), work('a', a, undefined), work('b', b, 'disk'), work('b', b, undefined)])
    const all = [...taken.a, ...taken.b]
    expect(all.sort()).toEqual([...ids].sort())
    expect(new Set(all).size).toBe(ids.length)
    expect(taken.a.length).toBeGreaterThan(0)
    expect(taken.b.length).toBeGreaterThan(0)
    expect(await a.stats()).toMatchObject({ pendingEvents: 0, pendingDeliveries: 0, destinations: {} })
  })

  it("gives a killed instance's claims to another once the ack wait runs out", async () => {
    const prefix = nextPrefix()
    // The holder renews its claims every third of the ack wait: 3 s leaves it 2 s of slack on a busy machine.
    const ackWaitMs = 3_000
    const survivor = await instance(prefix, { ackWaitMs })
    const ids: string[] = []
    for (let i = 0; i < 3; i++) {
      const e = await event()
      ids.push(e.id)
      await survivor.put(e, ['disk'])
    }
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/backends/nats/holder.ts', server.url, prefix, String(ackWaitMs), 'disk', '10'],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    )
    const exited = new Promise((resolve) => child.once('exit', resolve))
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once('line', resolve)
        child.once('exit', (code) => reject(new Error(`holder exited (${code}) before claiming`)))
      })
      expect((JSON.parse(line) as string[]).sort()).toEqual([...ids].sort())
      // Held past two ack waits while the holder lives (it keeps its hold alive).
      const waitMs = 2 * ackWaitMs + 500
      expect(await survivor.claim({ destination: 'disk', max: 10, leaseMs: 60_000, waitMs })).toEqual([])
      child.kill('SIGKILL')
      await exited
      const claims: Claim[] = []
      for (const deadline = Date.now() + 30_000; claims.length < ids.length && Date.now() < deadline; ) {
        claims.push(...(await survivor.claim({ destination: 'disk', max: 10, leaseMs: 60_000, waitMs: 1_000 })))
      }
      expect(claims.map((c) => c.eventId).sort()).toEqual([...ids].sort())
      for (const claim of claims) {
        expect(claim.attempts).toEqual([])
        expect((await survivor.load(claim)).id).toBe(claim.eventId)
        await survivor.ack(claim)
      }
    } finally {
      child.kill('SIGKILL')
      await exited
    }
  })

  it('refuses a late ack once the claim went to another instance, whose ack counts', async () => {
    const prefix = nextPrefix()
    const [a, b] = [await instance(prefix), await instance(prefix)]
    await a.put(await event(), ['disk'])
    const [late] = await a.claim({ destination: 'disk', max: 1, leaseMs: 200 })
    const [current] = await b.claim({ destination: 'disk', max: 1, leaseMs: 10_000, waitMs: 15_000 })
    expect(current).toMatchObject({ eventId: late!.eventId })
    await expect(a.ack(late!)).rejects.toBeInstanceOf(LeaseLostError)
    await expect(a.retry(late!, Date.now())).rejects.toBeInstanceOf(LeaseLostError)
    await b.ack(current!)
    expect(await a.stats()).toMatchObject({ pendingEvents: 0, pendingDeliveries: 0 })
  })

  it('drops a hook repeated to another instance, and an identical put racing on two', async () => {
    const prefix = nextPrefix()
    const [a, b] = [await instance(prefix), await instance(prefix)]
    const e = await event()
    const results = await Promise.all([a.put(e, ['disk', 'hook']), b.put(e, ['disk', 'hook'])])
    expect(results.filter((r) => !r.duplicate)).toHaveLength(1)
    expect(await b.put(e, ['disk', 'hook'])).toEqual({ duplicate: true })
    const claims = await b.claim({ max: 10, leaseMs: 10_000 })
    expect(claims.map((c) => c.destination).sort()).toEqual(['disk', 'hook'])
    expect(await a.stats()).toMatchObject({ pendingEvents: 1, pendingDeliveries: 2 })
  })

  it("sees another instance's dead letters, and replays them once when two replay at once", async () => {
    const prefix = nextPrefix()
    const [a, b] = [await instance(prefix), await instance(prefix)]
    const e = await event()
    await a.put(e, ['hook'])
    const [claim] = await a.claim({ destination: 'hook', max: 1, leaseMs: 10_000 })
    await a.dead(claim!, [{ at: 1, error: 'answered 400' }])
    expect(await b.deadLetters()).toEqual([
      expect.objectContaining({ eventId: e.id, destination: 'hook', attempts: [{ at: 1, error: 'answered 400' }] }),
    ])
    const counts = await Promise.all([a.replay(), b.replay()])
    expect(counts[0]! + counts[1]!).toBe(1)
    const again = await b.claim({ destination: 'hook', max: 10, leaseMs: 10_000 })
    expect(again.map((c) => c.eventId)).toEqual([e.id])
    expect((await b.load(again[0]!)).body).toEqual(e.body)
  })
})

describe('NATS queue while NATS is down', () => {
  it('rejects a put quickly (503) and takes hooks again once NATS is back, keeping its backlog', async () => {
    const prefix = nextPrefix()
    const queue = await instance(prefix)
    const before = await event()
    await queue.put(before, ['disk'])
    await server.stop()
    try {
      for (const wait of [0, 300]) {
        // noticed at once, and not noticed yet
        await new Promise((resolve) => setTimeout(resolve, wait))
        await expect(queue.put(await event(), ['disk'])).rejects.toBeInstanceOf(QueueFullError)
      }
      expect(queue.connected()).toBe(false)
    } finally {
      await server.start()
    }
    const after = await event()
    await eventually(() => queue.put(after, ['disk']).then(() => true), 15_000, 200)
    expect(queue.connected()).toBe(true)
    const claims = await eventually(async () => {
      const got = await queue.claim({ destination: 'disk', max: 10, leaseMs: 10_000, waitMs: 500 })
      return got.length === 2 ? got : undefined
    }, 10_000)
    expect(claims.map((c) => c.eventId).sort()).toEqual([before.id, after.id].sort())
  })
})

describe('NATS queue with authentication', () => {
  it('connects with the token the server wants, and says why when it is wrong', async () => {
    const guarded = await startNatsServer({ token: 's3cret-token' })
    try {
      const open = (token: string) =>
        openNatsQueue({
          servers: [guarded.url],
          auth: { token },
          prefix: nextPrefix(),
          dedupWindowMs: 0,
          log: silentLogger,
          connectTimeoutMs: 2_000,
        })
      await expect(open('wrong')).rejects.toThrow(
        /cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+: .*authorization/i,
      )
      const queue = await open('s3cret-token')
      await queue.put(await event(), ['disk'])
      expect((await queue.stats()).pendingDeliveries).toBe(1)
      await queue.close()
    } finally {
      await guarded.remove()
    }
  })
})

describe('NATS queue and max_payload', () => {
  let small: NatsTestServer
  beforeAll(async () => {
    small = await startNatsServer({ maxPayload: 512 * 1024 })
  })
  afterAll(() => small?.remove())

  it('keeps, delivers, dead-letters and replays a body three times as large as one message (in chunks)', async () => {
    const maxBodyBytes = 3 * 512 * 1024 + 7
    const prefix = nextPrefix()
    const queue = await openNatsQueue({ servers: [small.url], prefix, dedupWindowMs: 0, log: silentLogger })
    queues.push(queue)
    expect(queue.maxPayload).toBe(512 * 1024)
    const e = {
      ...(await event()),
      contentType: 'image/jpeg' as const,
      data: undefined,
      body: new Uint8Array(maxBodyBytes).map((_, i) => i % 251),
    }
    delete e.data
    await queue.put(e, ['hook'])
    const [claim] = await queue.claim({ max: 1, leaseMs: 10_000 })
    expect(Buffer.from((await queue.load(claim!)).body).equals(Buffer.from(e.body))).toBe(true)
    await queue.dead(
      claim!,
      Array.from({ length: 200 }, (_, i) => ({ at: i, error: 'x'.repeat(5_000) })),
    )
    const [letter] = await queue.deadLetters()
    expect(letter!.attempts.length).toBeGreaterThan(10)
    expect(letter!.attempts[1]!.error).toMatch(/^\(\d+ more attempts left out\)$/)
    expect(letter!.attempts.at(-1)).toEqual({ at: 199, error: `${'x'.repeat(1_000)}…` })
    expect(await queue.replay()).toBe(1)
    const [again] = await queue.claim({ max: 1, leaseMs: 10_000 })
    expect(Buffer.from((await queue.load(again!)).body).equals(Buffer.from(e.body))).toBe(true)
    await queue.ack(again!)
    // Nothing left behind: the copy, the dead letter and their chunks are gone.
    expect(await queue.stats()).toMatchObject({ pendingEvents: 0, pendingDeliveries: 0, deadLetters: 0 })
    const nc = await connect({ servers: small.url })
    const chunks = (await (await jetstreamManager(nc)).streams.info(`${prefix}-chunks`)).state.messages
    await nc.close()
    expect(chunks).toBe(0)
  })
})

describe('inspectNats (for hookcast check)', () => {
  it("reports the server, JetStream, max_payload and JetStream's storage", async () => {
    const report = await inspectNats({ servers: [server.url] })
    // The version of the server it reached, whichever the machine has (not one pinned here).
    expect(report).toMatchObject({
      version: natsServerVersion(),
      jetstream: true,
      maxPayload: 1024 * 1024,
      storage: { fileUsed: expect.any(Number), fileLimit: expect.any(Number) },
    })
  })

  it('says when JetStream is off', async () => {
    const plain = await startNatsServer({ jetstream: false })
    try {
      const report = await inspectNats({ servers: [plain.url], connectTimeoutMs: 1_000 })
      expect(report.jetstream).toBe(false)
      expect(report.problem).toMatch(/JetStream is not enabled/)
      await expect(
        openNatsQueue({ servers: [plain.url], dedupWindowMs: 0, log: silentLogger, requestTimeoutMs: 1_000 }),
      ).rejects.toThrow(/JetStream is not available/)
    } finally {
      await plain.remove()
    }
  })
})
