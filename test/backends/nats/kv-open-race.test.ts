/**
 * Instances of one deployment starting at once all open its KV buckets. The library looks for the bucket and makes
 * it when it finds none; between the two, another instance may make it and set hookcast's limits on it. Making it
 * then, with the library's defaults, is refused ("stream name already in use with a different configuration"), and
 * the instance failed to start: a loaded run caught it with two gateways starting side by side. Here that moment
 * is made every time: the second instance's look is answered (no bucket), then the first opens the bucket whole,
 * then the second goes on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { openBucket } from '../../../src/backends/nats/kv-buckets.ts'
import { startNatsServer, type NatsTestServer } from '../../support/nats-server.ts'

let server: NatsTestServer
let first: NatsConnection
let second: NatsConnection

beforeAll(async () => {
  server = await startNatsServer()
  first = await connect({ servers: server.url })
  second = await connect({ servers: server.url })
})
afterAll(async () => {
  await Promise.all([first?.close(), second?.close()])
  await server?.remove()
})

const LIMITS = { replicas: 1, maxValueSize: 1024, maxValues: 100, ttlMs: 60_000, description: 'race' }

describe('a KV bucket made by another instance while this one opens it', () => {
  it('opens, with the limits set', async () => {
    const request = second.request.bind(second)
    let madeMeanwhile = false
    second.request = async (subject, payload, options) => {
      const answer = await request(subject, payload, options)
      if (subject === '$JS.API.STREAM.INFO.KV_race' && !madeMeanwhile) {
        madeMeanwhile = true
        await openBucket(first, 'race', LIMITS) // the other instance, between this one's look and its next step
      }
      return answer
    }
    const bucket = await openBucket(second, 'race', LIMITS)
    expect(madeMeanwhile).toBe(true)
    expect(await bucket.kv.put('k', 'v')).toBeGreaterThan(0)
    const { config } = await bucket.jsm.streams.info(bucket.jetStream)
    expect(config.max_msgs).toBe(100)
    expect(config.max_age).toBe(60_000 * 1_000_000)
  })
})
