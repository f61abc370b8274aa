/**
 * The S3 queue across processes: several queue objects on one bucket and prefix, as overlapping Lambda invocations
 * are. The contract suite (contract.test.ts) runs one queue object, whose own bookkeeping already keeps its claims
 * apart; here only S3's conditional requests can, so these tests run through the conditional proxy, and a few show
 * what goes wrong on s3rver alone.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { DeleteObjectCommand } from '@aws-sdk/client-s3'
import type { HookEvent } from '../../../src/events/types.ts'
import { parseJsonHook, parseThumbnail } from '../../../src/events/parse.ts'
import { openS3Queue, type S3Queue, type S3QueueOptions } from '../../../src/backends/s3/queue.ts'
import { s3QueueKeys } from '../../../src/backends/s3/queue-keys.ts'
import { LeaseLostError, QueueFullError, type Claim } from '../../../src/queue/types.ts'
import { silentLogger } from '../../../src/log.ts'
import { jpeg, PAYLOADS, signedThumbnail } from '../../support/hooks.ts'
import { S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, startS3Server, type S3TestServer } from '../../support/s3-server.ts'
import { freePort } from '../../support/ports.ts'
import { startConditionalProxy, type ConditionalProxy } from './conditional-proxy.ts'

const BUCKET = 'spool'
let server: S3TestServer
let proxy: ConditionalProxy
let contended: ConditionalProxy
beforeAll(async () => {
  server = await startS3Server([BUCKET])
  proxy = await startConditionalProxy(server.endpoint)
  contended = await startConditionalProxy(server.endpoint, { conflictEvery: 5 })
})
afterAll(async () => {
  await proxy?.stop()
  await contended?.stop()
  await server?.stop()
})

let opened: S3Queue[] = []
afterEach(async () => {
  await Promise.all(opened.map((queue) => queue.close().catch(() => {})))
  opened = []
})

let prefixes = 0
const newPrefix = () => `q${prefixes++}`
async function open(prefix: string, options: Partial<S3QueueOptions> = {}): Promise<S3Queue> {
  const queue = await openS3Queue({
    bucket: BUCKET,
    endpoint: proxy.endpoint,
    region: S3_REGION,
    accessKeyId: S3_ACCESS_KEY,
    secretAccessKey: S3_SECRET_KEY,
    prefix,
    dedupWindowMs: 0,
    pollMs: 50,
    sweepEveryMs: 0,
    log: silentLogger,
    ...options,
  })
  opened.push(queue)
  return queue
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
let counter = 0
async function thumbnail(size = 2_000): Promise<HookEvent> {
  const hook = await signedThumbnail({ body: jpeg(`s3-queue-${counter++}-${Math.random()}`, size) })
  return parseThumbnail(hook.body, new Headers(hook.headers), { source: 'millicast', receivedAt: Date.now() })
}
const json = () =>
  parseJsonHook(
    new TextEncoder().encode(JSON.stringify({ ...PAYLOADS.feedsStarted, timestamp: Date.now() + counter++ })),
    { source: 'millicast', receivedAt: Date.now() },
  )

/** A scheduled run: claims and acks until nothing is due, recording what it delivered. */
async function scheduledRun(queue: S3Queue, delivered: string[], max = 5): Promise<void> {
  for (;;) {
    const claims = await queue.claim({ max, leaseMs: 60_000 })
    if (claims.length === 0) return
    for (const claim of claims) {
      await queue.load(claim)
      delivered.push(`${claim.eventId}>${claim.destination}`)
      await queue.ack(claim)
    }
  }
}

describe('s3rver and conditional requests', () => {
  it('s3rver ignores If-None-Match and If-Match on writes and deletes; the proxy refuses them as AWS S3 does', async () => {
    const raw = await open(newPrefix(), { endpoint: server.endpoint })
    expect(await raw.probe()).toEqual({ createIfAbsent: false, replaceIfMatch: false, deleteIfMatch: false })
    const checked = await open(newPrefix())
    expect(await checked.probe()).toEqual({ createIfAbsent: true, replaceIfMatch: true, deleteIfMatch: true })
  })

  it('on s3rver alone, a holder whose lease ran out deletes the delivery another run holds (why the proxy)', async () => {
    const prefix = newPrefix()
    const [a, b] = [
      await open(prefix, { endpoint: server.endpoint }),
      await open(prefix, { endpoint: server.endpoint }),
    ]
    await a.put(await thumbnail(), ['disk'])
    const [stale] = await a.claim({ max: 1, leaseMs: 50 })
    await sleep(80)
    const [current] = await b.claim({ max: 1, leaseMs: 60_000 })
    expect(current).toBeDefined()
    await a.ack(stale!) // s3rver deletes it whatever the If-Match says
    await expect(b.ack(current!)).resolves.toBeUndefined() // and its delete of nothing succeeds too
    expect((await b.stats()).pendingDeliveries).toBe(0)
  })
})

describe('S3 queue across queue objects (overlapping invocations)', () => {
  it('two scheduled runs at once deliver each delivery once', async () => {
    const prefix = newPrefix()
    const writer = await open(prefix)
    const expected: string[] = []
    for (let i = 0; i < 20; i++) {
      const event = await thumbnail(500)
      await writer.put(event, ['disk', 'hook'])
      expected.push(`${event.id}>disk`, `${event.id}>hook`)
    }
    const before = proxy.counts.preconditionFailed
    const delivered: string[] = []
    const runs = [await open(prefix), await open(prefix), await open(prefix)]
    await Promise.all(runs.map((run) => scheduledRun(run, delivered)))
    expect(delivered.sort()).toEqual(expected.sort())
    // The runs did collide (each read due deliveries another took first): S3's 412s kept them apart.
    expect(proxy.counts.preconditionFailed).toBeGreaterThan(before)
    expect(await writer.stats()).toMatchObject({ pendingEvents: 0, pendingDeliveries: 0 })
  })

  it('still once when S3 answers some conditional requests 409 ConditionalRequestConflict', async () => {
    const prefix = newPrefix()
    const options = { endpoint: contended.endpoint }
    const writer = await open(prefix, options)
    const expected: string[] = []
    for (let i = 0; i < 20; i++) {
      const event = await json()
      await writer.put(event, ['hook'])
      expected.push(`${event.id}>hook`)
    }
    const delivered: string[] = []
    await Promise.all([
      scheduledRun(await open(prefix, options), delivered, 3),
      scheduledRun(await open(prefix, options), delivered, 3),
    ])
    expect(delivered.sort()).toEqual(expected.sort())
    expect(contended.counts.conflicts).toBeGreaterThan(0)
  })

  it('a holder whose lease ran out is refused every outcome once another run claimed the delivery', async () => {
    const outcomes: Record<string, (queue: S3Queue, claim: Claim) => Promise<void>> = {
      ack: (queue, claim) => queue.ack(claim),
      retry: (queue, claim) => queue.retry(claim, Date.now(), { at: 1, error: 'timed out' }),
      extend: (queue, claim) => queue.extend(claim, 10_000),
      dead: (queue, claim) => queue.dead(claim, [{ at: 1, error: 'answered 400' }]),
    }
    for (const [name, outcome] of Object.entries(outcomes)) {
      const prefix = newPrefix()
      // Both runs read leases on one clock, moved by the test: the lease runs out when the test says.
      let clock = Date.now()
      const now = () => clock
      const [a, b] = [await open(prefix, { now }), await open(prefix, { now })]
      await a.put(await thumbnail(), ['disk'])
      const [stale] = await a.claim({ max: 1, leaseMs: 300 })
      expect(await b.claim({ max: 1, leaseMs: 60_000 })).toEqual([]) // held
      clock += 300
      const [current] = await b.claim({ max: 1, leaseMs: 60_000 })
      expect(current).toMatchObject({ eventId: stale!.eventId, destination: 'disk' })
      const refused = proxy.counts.preconditionFailed
      await expect(outcome(a, stale!), name).rejects.toBeInstanceOf(LeaseLostError)
      expect(proxy.counts.preconditionFailed, `${name} was refused by S3`).toBeGreaterThan(refused)
      expect(await b.deadLetters(), name).toEqual([]) // a refused dead leaves no dead letter behind
      await b.retry(current!, now(), { at: 2, error: 'b failed' })
      const [next] = await b.claim({ max: 1, leaseMs: 60_000 })
      expect(next!.attempts, name).toEqual([{ at: 2, error: 'b failed' }]) // b's outcome counted, a's not
      await b.ack(next!)
      expect((await b.stats()).pendingDeliveries, name).toBe(0)
    }
  })

  it('a claim whose holder died is claimable by another run once its lease ran out, not before', async () => {
    const prefix = newPrefix()
    let clock = Date.now()
    const now = () => clock
    const [dying, other] = [await open(prefix, { now }), await open(prefix, { now })]
    await dying.put(await json(), ['hook'])
    const [held] = await dying.claim({ max: 1, leaseMs: 300 })
    expect(await other.claim({ max: 1, leaseMs: 10_000 })).toEqual([])
    clock += 299
    expect(await other.claim({ max: 1, leaseMs: 10_000 })).toEqual([])
    // A claim waiting on the lease: the clock reaches the lease's end only after it has started waiting.
    let leaseOver = false
    const waiting = other.claim({ max: 1, leaseMs: 10_000, waitMs: 60_000 })
    setTimeout(() => {
      leaseOver = true
      clock += 1
    }, 50)
    const [taken] = await waiting
    expect(leaseOver).toBe(true)
    expect(taken).toMatchObject({ eventId: held!.eventId })
  })

  it('a closing queue gives its claims back: another run claims them at once', async () => {
    const prefix = newPrefix()
    const [a, b] = [await open(prefix), await open(prefix)]
    await a.put(await json(), ['hook'])
    expect(await a.claim({ max: 1, leaseMs: 600_000 })).toHaveLength(1)
    await a.close()
    expect(await b.claim({ max: 1, leaseMs: 10_000 })).toHaveLength(1)
  })

  it('a hook repeated to another invocation is not doubled, also when both put at once', async () => {
    const prefix = newPrefix()
    const [a, b] = [await open(prefix), await open(prefix)]
    const event = await thumbnail()
    expect(await a.put(event, ['disk', 'hook'])).toEqual({ duplicate: false })
    expect(await b.put(event, ['disk', 'hook'])).toEqual({ duplicate: true })
    const racing = await thumbnail()
    const results = await Promise.all([a.put(racing, ['disk', 'hook']), b.put(racing, ['disk', 'hook'])])
    expect(results.filter((r) => !r.duplicate).length).toBeGreaterThanOrEqual(1)
    const stats = await a.stats()
    expect(stats).toMatchObject({ pendingEvents: 2, pendingDeliveries: 4, destinations: { disk: 2, hook: 2 } })
    // One event copy each: the repeats' copies went (no delivery took them).
    expect(await server.list(BUCKET, `${prefix}/events/`)).toHaveLength(2)
  })

  it('the dedup window holds across invocations after delivery, and ends', async () => {
    const prefix = newPrefix()
    let clock = Date.now()
    const now = () => clock
    const [a, b] = [
      await open(prefix, { dedupWindowMs: 60_000, now }),
      await open(prefix, { dedupWindowMs: 60_000, now }),
    ]
    const event = await json()
    await a.put(event, ['hook'])
    const [claim] = await a.claim({ max: 1, leaseMs: 10_000 })
    await a.ack(claim!)
    expect(await b.put(event, ['hook'])).toEqual({ duplicate: true })
    expect((await b.stats()).pendingDeliveries).toBe(0)
    clock += 61_000
    expect(await b.put(event, ['hook'])).toEqual({ duplicate: false })
    expect((await a.stats()).pendingDeliveries).toBe(1)
  })

  it('dead letters replayed from two invocations at once come back once', async () => {
    const prefix = newPrefix()
    const [a, b] = [await open(prefix), await open(prefix)]
    const event = await thumbnail(40_000)
    await a.put(event, ['hook'])
    const [claim] = await a.claim({ max: 1, leaseMs: 10_000 })
    await a.dead(claim!, [{ at: 1, error: 'answered 400' }])
    expect(await b.deadLetters()).toEqual([
      expect.objectContaining({
        eventId: event.id,
        destination: 'hook',
        attempts: [{ at: 1, error: 'answered 400' }],
        type: 'thumbnail',
      }),
    ])
    const counts = await Promise.all([a.replay(), b.replay()])
    expect(counts[0]! + counts[1]!).toBe(1)
    expect(await a.deadLetters()).toEqual([])
    const [again] = await b.claim({ max: 5, leaseMs: 10_000 })
    expect(Buffer.from((await b.load(again!)).body).equals(Buffer.from(event.body))).toBe(true)
    expect(await b.claim({ max: 5, leaseMs: 10_000 })).toEqual([])
  })

  it("a claim with eventId takes that event's deliveries only, also with older due deliveries of the destination", async () => {
    const prefix = newPrefix()
    const writer = await open(prefix)
    const older = [await thumbnail(300), await thumbnail(300), await thumbnail(300)]
    for (const event of older) await writer.put(event, ['hook'])
    const target = await json()
    await writer.put(target, ['hook', 'disk'])
    const later = await json()
    await writer.put(later, ['hook'], { notBefore: Date.now() + 60_000 })
    // Another invocation (nothing cached): the delivery is read by its key.
    const run = await open(prefix)
    const claims = await run.claim({ destination: 'hook', eventId: target.id, max: 5, leaseMs: 60_000 })
    expect(claims.map((claim) => `${claim.eventId}>${claim.destination}`)).toEqual([`${target.id}>hook`])
    expect((await run.load(claims[0]!)).id).toBe(target.id)
    // Held already, not due yet, or not there: nothing.
    expect(await run.claim({ destination: 'hook', eventId: target.id, max: 5, leaseMs: 60_000 })).toEqual([])
    expect(await run.claim({ destination: 'hook', eventId: later.id, max: 5, leaseMs: 60_000 })).toEqual([])
    expect(await run.claim({ destination: 'nowhere', eventId: target.id, max: 5, leaseMs: 60_000 })).toEqual([])
    // Without a destination: that event's deliveries to any destination.
    const rest = await run.claim({ eventId: target.id, max: 5, leaseMs: 60_000 })
    expect(rest.map((claim) => `${claim.eventId}>${claim.destination}`)).toEqual([`${target.id}>disk`])
    await run.ack(claims[0]!)
    await run.ack(rest[0]!)
    // The older ones were left due, for whoever claims next.
    const next = await writer.claim({ destination: 'hook', max: 5, leaseMs: 60_000 })
    expect(next.map((claim) => claim.eventId).sort()).toEqual(older.map((event) => event.id).sort())
  })

  it('keys any destination name and round-trips it', async () => {
    const prefix = newPrefix()
    const queue = await open(prefix)
    const names = ['a/b', 'a', '..', '.', 'ünï côdé %2F', '@streams']
    const event = await json()
    await queue.put(event, names)
    const claims = await queue.claim({ max: 10, leaseMs: 10_000 })
    expect(claims.map((c) => c.destination).sort()).toEqual([...names].sort())
    expect(Object.keys((await queue.stats()).destinations).sort()).toEqual([...names].sort())
    expect(await queue.claim({ destination: 'a', max: 10, leaseMs: 10_000 })).toEqual([])
    for (const claim of claims) await queue.ack(claim)
    expect(await server.list(BUCKET, `${prefix}/`)).toEqual([])
  })

  it('sweeps event copies no delivery refers to and expired dedup markers; keeps the rest', async () => {
    const prefix = newPrefix()
    let clock = Date.now()
    const queue = await open(prefix, { dedupWindowMs: 60_000, orphanAgeMs: 0, now: () => clock })
    const [kept, orphaned] = [await json(), await json()]
    await queue.put(kept, ['hook'])
    await queue.put(orphaned, ['hook'])
    // A put that died after its copy: as if its delivery had never been written.
    const admin = server.client()
    await admin.send(
      new DeleteObjectCommand({ Bucket: BUCKET, Key: s3QueueKeys(prefix).delivery('hook', orphaned.id) }),
    )
    admin.destroy()
    clock += 1_500 // listings give LastModified in whole seconds (rounded either way)
    expect(await queue.sweep()).toEqual({ copies: 1, markers: 0 })
    clock += 62_000
    expect(await queue.sweep()).toEqual({ copies: 0, markers: 2 })
    const [claim] = await queue.claim({ max: 5, leaseMs: 10_000 })
    expect(claim!.eventId).toBe(kept.id)
    expect((await queue.load(claim!)).data).toEqual(kept.data)
  })

  it('answers a put with QueueFullError when S3 is unreachable', async () => {
    const queue = await open(newPrefix(), { endpoint: `http://127.0.0.1:${await freePort()}`, requestTimeoutMs: 1_000 })
    await expect(queue.put(await json(), ['hook'])).rejects.toBeInstanceOf(QueueFullError)
  })
})
