/**
 * The on-demand deliveries of a function (src/delivery/on-demand.ts) on the S3 queue, as separate Lambda instances
 * share it: two queue objects on one bucket and prefix, each with its own worker, on s3rver behind the conditional
 * proxy of the S3 queue's tests (AWS's If-Match / If-None-Match answers). What fails before an answer waits in the
 * bucket, and two scheduled runs at once, on two instances, deliver each event once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openS3Queue } from '../../src/backends/s3/queue.ts'
import type { Queue } from '../../src/queue/types.ts'
import { onDemandWorker, type OnDemandWorker } from '../../src/delivery/on-demand.ts'
import { policyFromConfig } from '../../src/delivery/policy.ts'
import { deliveryConfig } from '../../src/config/config-schema.ts'
import { DeliveryError, type Destination } from '../../src/destinations/types.ts'
import type { HookEvent } from '../../src/events/types.ts'
import { silentLogger } from '../../src/log.ts'
import { createHash } from 'node:crypto'
import { makeEvent } from '../support/events.ts'
import { S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, startS3Server, type S3TestServer } from '../support/s3-server.ts'
import { startConditionalProxy, type ConditionalProxy } from '../backends/s3/conditional-proxy.ts'

const BUCKET = 'lambda-spool'
let server: S3TestServer
let proxy: ConditionalProxy
beforeAll(async () => {
  server = await startS3Server([BUCKET])
  proxy = await startConditionalProxy(server.endpoint)
}, 60_000)
afterAll(async () => {
  await proxy?.stop()
  await server?.stop()
})

/** A destination that records what it was given, and fails (transiently) or hangs while told to. */
function fakeDestination(name: string) {
  const state = { mode: 'up' as 'up' | 'down' | 'hang', delivered: [] as string[], attempts: 0 }
  const destination: Destination = {
    name,
    kind: 'notifier',
    async deliver(event: HookEvent, signal?: AbortSignal) {
      state.attempts++
      if (state.mode === 'down') throw new DeliveryError('503 from the destination')
      if (state.mode === 'hang')
        await new Promise((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason)))
      await new Promise((resolve) => setTimeout(resolve, 20))
      state.delivered.push(event.id)
    },
  }
  return { destination, state }
}

/** An event whose body hash is right (the S3 queue checks it when it reads the event back). */
function event(id: string, body = new TextEncoder().encode(id)): HookEvent {
  return makeEvent({ id, body, bodySha256: createHash('sha256').update(body).digest('hex'), receivedAt: Date.now() })
}

let prefixCount = 0
/** One "Lambda instance": its own queue object and worker on the shared bucket and prefix. */
async function instance(prefix: string, destination: Destination): Promise<{ queue: Queue; worker: OnDemandWorker }> {
  const queue = await openS3Queue({
    bucket: BUCKET,
    endpoint: proxy.endpoint,
    region: S3_REGION,
    accessKeyId: S3_ACCESS_KEY,
    secretAccessKey: S3_SECRET_KEY,
    prefix,
    dedupWindowMs: 600_000,
    pollMs: 50,
    sweepEveryMs: 0,
    log: silentLogger,
  })
  const delivery = deliveryConfig.parse({ timeout: '5s', retry: { schedule: ['200ms'], jitter: 0 } })
  const worker = onDemandWorker(
    {
      queue,
      destinations: new Map([[destination.name, destination]]),
      policyFor: (name) => policyFromConfig(delivery, name),
      log: silentLogger,
    },
    { settleMs: 2_000 },
  )
  return { queue, worker }
}

/** What a function's `handle` does with a hook: put it (the 200's promise), then deliver it until `deadline`. */
const receive = (at: { queue: Queue; worker: OnDemandWorker }, event: HookEvent, deadline: number) =>
  at.worker.around(async () => {
    const { duplicate } = await at.queue.put(event, ['hook'])
    if (!duplicate) at.worker.accepted(event.id, ['hook'])
    return duplicate
  }, deadline)

describe('on-demand deliveries on the S3 queue', () => {
  it('keep what a down destination refused in the bucket; two scheduled runs on two instances deliver each event once', async () => {
    const prefix = `lambda${prefixCount++}`
    const { destination, state } = fakeDestination('hook')
    const [a, b] = [await instance(prefix, destination), await instance(prefix, destination)]
    try {
      state.mode = 'down'
      const events = Array.from({ length: 6 }, (_, i) => event(`s3-down-${i}`))
      for (const [i, hook] of events.entries()) {
        const { report } = await receive(i % 2 === 0 ? a : b, hook, Date.now() + 20_000)
        expect(report, `event ${i}: ${JSON.stringify(report)}`).toMatchObject({ delivered: 0, retried: 1 })
      }
      expect((await a.queue.stats()).pendingDeliveries).toBe(6)

      state.mode = 'up'
      await new Promise((resolve) => setTimeout(resolve, 300))
      const reports = await Promise.all([a.worker.drain(Date.now() + 10_000), b.worker.drain(Date.now() + 10_000)])
      expect(reports[0]!.delivered + reports[1]!.delivered).toBe(6)
      expect([...state.delivered].sort()).toEqual(events.map((e) => e.id).sort()) // each once
      expect(state.attempts).toBe(12) // 6 refused before the answers, 6 delivered: no run made one twice
      expect((await b.queue.stats()).pendingDeliveries).toBe(0)
    } finally {
      await Promise.all([a.queue.close(), b.queue.close()])
    }
  })

  it('give back at the deadline what did not finish, and a later run delivers it with no attempt counted', async () => {
    const prefix = `lambda${prefixCount++}`
    const { destination, state } = fakeDestination('hook')
    const fn = await instance(prefix, destination)
    try {
      state.mode = 'hang'
      // The destination hangs until aborted: only the deadline ends this delivery. The deadline leaves the put
      // (several S3 requests through the proxy) time to finish and the claim to start on a busy machine.
      const { report } = await receive(fn, event('s3-slow'), Date.now() + 3_000)
      expect(report).toMatchObject({ delivered: 0, retried: 0, released: 1 })

      state.mode = 'up'
      const other = await instance(prefix, destination) // the scheduled function: another instance
      try {
        expect(await other.worker.drain(Date.now() + 10_000)).toMatchObject({ delivered: 1, retried: 0 })
        expect(state.delivered).toEqual(['s3-slow'])
      } finally {
        await other.queue.close()
      }
    } finally {
      await fn.queue.close()
    }
  })

  it('do not deliver a hook repeated to another instance twice', async () => {
    const prefix = `lambda${prefixCount++}`
    const { destination, state } = fakeDestination('hook')
    const [a, b] = [await instance(prefix, destination), await instance(prefix, destination)]
    try {
      const hook = event('s3-repeat')
      const deadline = Date.now() + 20_000
      const [first, second] = await Promise.all([receive(a, hook, deadline), receive(b, hook, deadline)])
      expect([first.result, second.result].sort()).toEqual([false, true])
      expect(state.delivered).toEqual(['s3-repeat'])
    } finally {
      await Promise.all([a.queue.close(), b.queue.close()])
    }
  })
})
