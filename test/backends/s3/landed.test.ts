/**
 * A conditional write that lands in S3 and is still answered with an error: the SDK retries it, and the retry is
 * refused by the precondition the first try used up (412, or 404 for `If-None-Match`). The queue must read what is
 * stored and count the write as its own when the stored `rev` is the one it wrote (`landed`, backends/s3/queue-context.ts),
 * not as another writer's: else a put takes its new event for a repeat and deletes its copy, a claim leaves a
 * lease nobody holds, a retry reports a lease lost, and a replay drops the event it brought back.
 *
 * Requests go queue -> land-then-fail proxy -> conditional proxy (AWS's precondition checks) -> s3rver.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { parseJsonHook } from '../../../src/events/parse.ts'
import type { HookEvent } from '../../../src/events/types.ts'
import { silentLogger } from '../../../src/log.ts'
import { openS3Queue, type S3Queue } from '../../../src/backends/s3/queue.ts'
import { PAYLOADS } from '../../support/hooks.ts'
import { S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, startS3Server, type S3TestServer } from '../../support/s3-server.ts'
import { startConditionalProxy, type ConditionalProxy } from './conditional-proxy.ts'
import { startLandThenFailProxy, type LandThenFailProxy, type ProxiedRequest } from './land-then-fail-proxy.ts'

const BUCKET = 'landed'
let server: S3TestServer
let conditional: ConditionalProxy
let flaky: LandThenFailProxy
beforeAll(async () => {
  server = await startS3Server([BUCKET])
  conditional = await startConditionalProxy(server.endpoint)
  flaky = await startLandThenFailProxy(conditional.endpoint)
})
afterAll(async () => {
  await flaky?.stop()
  await conditional?.stop()
  await server?.stop()
})

let opened: S3Queue[] = []
afterEach(async () => {
  await Promise.all(opened.map((queue) => queue.close().catch(() => {})))
  opened = []
})

let prefixes = 0
async function open(): Promise<S3Queue> {
  const queue = await openS3Queue({
    bucket: BUCKET,
    endpoint: flaky.endpoint,
    region: S3_REGION,
    accessKeyId: S3_ACCESS_KEY,
    secretAccessKey: S3_SECRET_KEY,
    prefix: `landed${prefixes++}`,
    dedupWindowMs: 0,
    pollMs: 50,
    sweepEveryMs: 0,
    log: silentLogger,
  })
  opened.push(queue)
  return queue
}

let counter = 0
const event = (): Promise<HookEvent> =>
  parseJsonHook(
    new TextEncoder().encode(JSON.stringify({ ...PAYLOADS.feedsStarted, timestamp: 1_700_000_000_000 + counter++ })),
    { source: 'millicast', receivedAt: Date.now() },
  )

/** A PutObject of a delivery state, with `If-None-Match` (creating it) or `If-Match` (rewriting it). */
const deliveryWrite = (condition: 'if-none-match' | 'if-match') => (request: ProxiedRequest) =>
  request.method === 'PUT' && request.url.includes('/deliveries/') && request.headers[condition] !== undefined

/** The SDK sent the trapped write again, and S3 refused the retry on its precondition. */
function expectRetriedAndRefused(trapped: ProxiedRequest): void {
  const path = trapped.url.split('?')[0]
  const tries = flaky.seen.filter((request) => request.method === 'PUT' && request.url.split('?')[0] === path)
  expect(tries.length).toBeGreaterThanOrEqual(2)
}

describe('S3 queue: a write that lands but is answered with an error', () => {
  it('put: the delivery is created, the put is not taken for a repeat, and the event copy stays', async () => {
    const queue = await open()
    const e = await event()
    const refusedBefore = conditional.counts.preconditionFailed
    const trap = flaky.failNext(deliveryWrite('if-none-match'))
    expect(await queue.put(e, ['hook'])).toEqual({ duplicate: false })
    const { upstreamStatus, request } = await trap
    expect(upstreamStatus).toBe(200) // the first try landed
    expectRetriedAndRefused(request)
    expect(conditional.counts.preconditionFailed).toBeGreaterThan(refusedBefore)
    const [claim] = await queue.claim({ max: 5, leaseMs: 60_000 })
    expect(claim).toMatchObject({ eventId: e.id, destination: 'hook' })
    expect((await queue.load(claim!)).data).toEqual(e.data) // the copy was kept
  })

  it("claim: the lease written is this claim's, held and ended by it", async () => {
    const queue = await open()
    const e = await event()
    await queue.put(e, ['hook'])
    const trap = flaky.failNext(deliveryWrite('if-match'))
    const claims = await queue.claim({ max: 5, leaseMs: 60_000 })
    const { upstreamStatus, request } = await trap
    expect(upstreamStatus).toBe(200)
    expectRetriedAndRefused(request)
    expect(claims.map((claim) => claim.eventId)).toEqual([e.id])
    expect((await queue.load(claims[0]!)).id).toBe(e.id)
    await queue.ack(claims[0]!) // its If-Match names the ETag of the write that landed
    expect((await queue.stats()).pendingDeliveries).toBe(0)
  })

  it("retry: the holder's rewrite counts, with its attempt, and no lease is lost", async () => {
    const queue = await open()
    const e = await event()
    await queue.put(e, ['hook'])
    const [claim] = await queue.claim({ max: 5, leaseMs: 60_000 })
    const trap = flaky.failNext(deliveryWrite('if-match'))
    await queue.retry(claim!, Date.now(), { at: 1, error: 'answered 503' })
    const { upstreamStatus, request } = await trap
    expect(upstreamStatus).toBe(200)
    expectRetriedAndRefused(request)
    const [again] = await queue.claim({ max: 5, leaseMs: 60_000 })
    expect(again).toMatchObject({ eventId: e.id, attempts: [{ at: 1, error: 'answered 503' }] })
  })

  it('replay: the delivery brought back is counted and its event copy kept', async () => {
    const queue = await open()
    const e = await event()
    await queue.put(e, ['hook'])
    const [claim] = await queue.claim({ max: 5, leaseMs: 60_000 })
    await queue.dead(claim!, [{ at: 1, error: 'answered 400' }])
    const trap = flaky.failNext(deliveryWrite('if-none-match'))
    expect(await queue.replay()).toBe(1)
    const { upstreamStatus, request } = await trap
    expect(upstreamStatus).toBe(200)
    expectRetriedAndRefused(request)
    expect(await queue.deadLetters()).toEqual([])
    const [again] = await queue.claim({ max: 5, leaseMs: 60_000 })
    expect((await queue.load(again!)).data).toEqual(e.data)
  })
})
