/**
 * What the cloud sinks share (src/sinks/cloud-sink.ts), over a bucket kept in memory: which key a write goes to, how
 * a failed or aborted write is reported, when retention runs, and which URL `urlFor` gives. The contract
 * (contract.ts) runs the same through the real s3 and gcs sinks.
 */
import { describe, expect, it } from 'vitest'
import { cloudSink, type CloudBucket } from '../../src/sinks/cloud-sink.ts'
import { DeliveryError } from '../../src/destinations/types.ts'
import { parseThumbnail } from '../../src/events/parse.ts'
import type { HookEvent } from '../../src/events/types.ts'
import type { RetentionConfig } from '../../src/config/retention.ts'
import { jpeg, signedThumbnail } from '../support/hooks.ts'

async function thumbnail(): Promise<HookEvent> {
  const hook = await signedThumbnail({ body: jpeg('cloud', 0), timestamp: 1679973930415 })
  return parseThumbnail(hook.body, new Headers(hook.headers), { source: 'millicast', receivedAt: 1 })
}

/** A bucket in memory that records what it was asked; `write` runs `onWrite` first. */
function memoryBucket(onWrite: (signal: AbortSignal | undefined) => Promise<void> = async () => {}) {
  const stored = new Map<string, Uint8Array>()
  const listed: string[] = []
  const bucket: CloudBucket = {
    async write(key, event, signal) {
      await onWrite(signal)
      stored.set(key, event.body)
    },
    writeError: (error, key) => new DeliveryError(`cannot write ${key}: ${(error as Error).message}`),
    signedUrl: async (key) => `https://signed.example/${key}?sig=1`,
    check: async () => undefined,
    async list(prefix) {
      listed.push(prefix)
      return [...stored.keys()].filter((key) => key.startsWith(prefix)).map((key) => ({ key, modified: 0 }))
    },
    async remove(keys) {
      for (const key of keys) stored.delete(key)
    },
  }
  return { bucket, stored, listed }
}

const KEY = 'thumbs/{streamId}/{id}.{ext}'
const RETENTION: RetentionConfig = { keepLatest: 5, sweepEvery: 0 }

describe('cloud sink', () => {
  it('writes the event under the key its template gives, then runs retention on its stream', async () => {
    const { bucket, stored, listed } = memoryBucket()
    const sink = cloudSink('pics', { key: KEY, retention: RETENTION }, bucket, {})
    const event = await thumbnail()
    await sink.deliver(event)
    expect([...stored.keys()]).toEqual([sink.keyFor(event)])
    expect(sink.keyFor(event)).toMatch(/^thumbs\/ZG6NWV\/sample_stream\/[^/]+\.jpg$/)
    expect(listed).toEqual(['thumbs/ZG6NWV/sample_stream/'])
  })

  it('reports a failed write as the bucket classifies it, naming the key', async () => {
    const { bucket } = memoryBucket(async () => {
      throw new Error('connection reset')
    })
    const sink = cloudSink('pics', { key: KEY }, bucket, {})
    const event = await thumbnail()
    await expect(sink.deliver(event)).rejects.toThrow(`cannot write ${sink.keyFor(event)}: connection reset`)
  })

  it('rejects an aborted write with the abort reason, unclassified, and runs no retention', async () => {
    const controller = new AbortController()
    const { bucket, listed } = memoryBucket(async (signal) => {
      controller.abort(new Error('timed out'))
      throw signal!.reason
    })
    const sink = cloudSink('pics', { key: KEY, retention: RETENTION }, bucket, {})
    const attempt = sink.deliver(await thumbnail(), controller.signal)
    await expect(attempt).rejects.toThrow(/^timed out$/)
    await expect(attempt).rejects.not.toBeInstanceOf(DeliveryError)
    expect(listed).toEqual([])
  })

  it('runs no retention after a write that finished once its attempt was aborted', async () => {
    const controller = new AbortController()
    const { bucket, stored, listed } = memoryBucket(async () => controller.abort(new Error('timed out')))
    const sink = cloudSink('pics', { key: KEY, retention: RETENTION }, bucket, {})
    await sink.deliver(await thumbnail(), controller.signal)
    expect(stored.size).toBe(1)
    expect(listed).toEqual([])
  })

  it('gives the public URL when a base is set, else the signed one', async () => {
    const event = await thumbnail()
    const signed = cloudSink('pics', { key: KEY }, memoryBucket().bucket, {})
    expect(await signed.urlFor!(event)).toBe(`https://signed.example/${signed.keyFor(event)}?sig=1`)
    const base = 'https://cdn.example.com/pics'
    const open = cloudSink('pics', { key: KEY, publicBaseUrl: base }, memoryBucket().bucket, {})
    expect(await open.urlFor!(event)).toBe(`${base}/${open.keyFor(event)}`)
  })

  it('closes only a bucket that has something to close', async () => {
    let closed = 0
    const { bucket } = memoryBucket()
    expect(cloudSink('pics', { key: KEY }, bucket, {}).close).toBeUndefined()
    const closing = cloudSink('pics', { key: KEY }, { ...bucket, close: async () => void closed++ }, {})
    await closing.close!()
    expect(closed).toBe(1)
  })
})
