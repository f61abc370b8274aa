/**
 * Event bodies are read with JetStream's Direct Get (the stored bytes as they are) rather than the API's message
 * get (JSON with the body in base64, which cost a 100 KB thumbnail's delivery a JSON parse of 140 KB and a base64
 * decode): the events stream allows it, a stream made before is switched over at start, and a Direct Get that
 * fails falls back to the API's get, once, with a warning. Requests are counted by a second connection listening
 * on the API subjects.
 */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { jetstreamManager, RetentionPolicy, StorageType, type StreamConfig } from '@nats-io/jetstream'
import { silentLogger } from '../../../src/log.ts'
import { openNatsQueue, type NatsQueue, type NatsQueueOptions } from '../../../src/backends/nats/queue.ts'
import { parseThumbnail } from '../../../src/events/parse.ts'
import { jpeg, signedThumbnail } from '../../support/hooks.ts'
import { startNatsServer, type NatsTestServer } from '../../support/nats-server.ts'

let server: NatsTestServer
let watcher: NatsConnection
beforeAll(async () => {
  server = await startNatsServer()
  watcher = await connect({ servers: [server.url] })
})
afterAll(async () => {
  await watcher?.close()
  server?.remove()
})
let queues: NatsQueue[] = []
afterEach(async () => {
  await Promise.all(queues.map((queue) => queue.close()))
  queues = []
})

let prefixes = 0
async function open(prefix: string, options: Partial<NatsQueueOptions> = {}): Promise<NatsQueue> {
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

/** Counts the requests made on a subject (this connection only listens: the server answers them). */
function countRequests(subject: string): { count(): number } {
  let seen = 0
  watcher.subscribe(subject, {
    callback: () => {
      seen++
    },
  })
  return { count: () => seen }
}

const thumbnail = async (seed: string) => {
  const hook = await signedThumbnail({ body: jpeg(seed, 100_000), streamId: 'ZG6NWV/show', timestamp: Date.now() })
  return parseThumbnail(hook.body, new Headers(hook.headers), { source: 'millicast', receivedAt: Date.now() })
}

it('loads a body with one Direct Get and no message get of the API', async () => {
  const prefix = `direct${prefixes++}`
  const queue = await open(prefix)
  const direct = countRequests(`$JS.API.DIRECT.GET.${prefix}-events`)
  const api = countRequests(`$JS.API.STREAM.MSG.GET.${prefix}-events`)
  await watcher.flush()
  const event = await thumbnail('direct')
  await queue.put(event, ['disk'])
  const [claim] = await queue.claim({ destination: 'disk', max: 1, leaseMs: 10_000 })
  const loaded = await queue.load(claim!)
  expect(loaded.body).toEqual(event.body)
  expect(loaded.body.constructor).toBe(Uint8Array) // a copy of its own, not a view into the client's buffer
  await watcher.flush()
  expect(direct.count()).toBe(1)
  expect(api.count()).toBe(0)
  await queue.ack(claim!)
})

it('switches on Direct Get for an events stream made without it; when Direct Get fails, uses the API for a minute', async () => {
  const prefix = `direct${prefixes++}`
  const jsm = await jetstreamManager(watcher)
  // As an older hookcast made it.
  await jsm.streams.add({
    name: `${prefix}-events`,
    subjects: [`${prefix}.events.*`],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
  } as Partial<StreamConfig> as StreamConfig)
  expect((await jsm.streams.info(`${prefix}-events`)).config.allow_direct).toBeFalsy()
  const warnings: string[] = []
  const log = {
    ...silentLogger,
    warn: (message: string) => {
      warnings.push(message)
    },
  }
  // A short request timeout: a Direct Get the server does not answer fails after it.
  let shift = 0
  const queue = await open(prefix, { log, requestTimeoutMs: 500, now: () => Date.now() + shift })
  expect((await jsm.streams.info(`${prefix}-events`)).config.allow_direct).toBe(true)

  const events = [await thumbnail('fallback-1'), await thumbnail('fallback-2')]
  for (const event of events) await queue.put(event, ['disk'])
  // Turned off behind the running queue's back (an operator; the server then leaves Direct Gets unanswered).
  await jsm.streams.update(`${prefix}-events`, { allow_direct: false })
  const direct = countRequests(`$JS.API.DIRECT.GET.${prefix}-events`)
  const api = countRequests(`$JS.API.STREAM.MSG.GET.${prefix}-events`)
  await watcher.flush()
  const claims = await queue.claim({ destination: 'disk', max: 2, leaseMs: 10_000 })
  expect(claims).toHaveLength(2)
  for (const [i, claim] of claims.entries()) {
    expect((await queue.load(claim)).body).toEqual(events.find((e) => e.id === claim.eventId)!.body)
    await watcher.flush()
    expect([direct.count(), api.count()]).toEqual([1, i + 1]) // one Direct Get, the first time only
  }
  expect(warnings).toEqual(['NATS Direct Get failed; event bodies are read through the JetStream API for a minute'])
  for (const claim of claims) await queue.ack(claim)

  // Allowed again (the operator, or the server back from a restart), and a minute later Direct Get is used again.
  await jsm.streams.update(`${prefix}-events`, { allow_direct: true })
  shift = 61_000
  const later = await thumbnail('fallback-3')
  await queue.put(later, ['disk'])
  const [claim] = await queue.claim({ destination: 'disk', max: 1, leaseMs: 10_000, waitMs: 5_000 })
  expect((await queue.load(claim!)).body).toEqual(later.body)
  await watcher.flush()
  expect([direct.count(), api.count()]).toEqual([2, 2])
  await queue.ack(claim!)
})
