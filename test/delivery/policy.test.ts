import { describe, expect, it } from 'vitest'
import { nextAttempt, type RetryPolicy } from '../../src/delivery/retry.ts'
import { httpFailure, parseRetryAfter } from '../../src/destinations/failures.ts'
import { createCircuit } from '../../src/delivery/circuit.ts'
import { MinHeap } from '../../src/util/min-heap.ts'
import { memoryDedupWindow } from '../../src/queue/dedup.ts'
import { DeliveryError } from '../../src/destinations/types.ts'
import { policyFromConfig } from '../../src/delivery/policy.ts'
import { deliveryConfig } from '../../src/config/config-schema.ts'
import { createFsSink } from '../../src/sinks/fs.ts'
import { fsSinkConfig } from '../../src/config/fs-sink.ts'

const policy: RetryPolicy = { scheduleMs: [1_000, 5_000, 30_000], jitter: 0.2, maxAgeMs: 3_600_000 }
const mid = () => 0.5 // no jitter

describe('retry schedule', () => {
  it('follows the schedule, repeating its last wait', () => {
    expect(nextAttempt(policy, new Error('x'), 1, 0, 0, mid)).toEqual({ retry: true, at: 1_000 })
    expect(nextAttempt(policy, new Error('x'), 2, 0, 0, mid)).toEqual({ retry: true, at: 5_000 })
    expect(nextAttempt(policy, new Error('x'), 9, 0, 0, mid)).toEqual({ retry: true, at: 30_000 })
  })

  it('spreads waits by the jitter', () => {
    expect(nextAttempt(policy, new Error('x'), 1, 0, 0, () => 0)).toEqual({ retry: true, at: 800 })
    expect(nextAttempt(policy, new Error('x'), 1, 0, 0, () => 0.999999)).toEqual({ retry: true, at: 1_200 })
  })

  it('waits at least what Retry-After asks', () => {
    expect(nextAttempt(policy, new DeliveryError('429', { retryAfterMs: 2_000 }), 1, 0, 0, mid)).toEqual({
      retry: true,
      at: 2_000,
    })
  })

  it('gives up on a permanent error at once, and on any error past the max age', () => {
    expect(nextAttempt(policy, new DeliveryError('400', { permanent: true }), 1, 0, 0, mid)).toMatchObject({
      retry: false,
    })
    expect(nextAttempt(policy, new Error('x'), 5, 0, 3_590_000, mid)).toMatchObject({
      retry: false,
      reason: expect.stringContaining('max age'),
    })
  })

  it('classifies HTTP statuses and reads Retry-After', () => {
    expect(httpFailure(503, 'x')).toMatchObject({ permanent: false })
    expect(httpFailure(500, 'x')).toMatchObject({ permanent: false })
    expect(httpFailure(408, 'x')).toMatchObject({ permanent: false })
    expect(httpFailure(429, 'x', '2')).toMatchObject({ permanent: false, retryAfterMs: 2_000 })
    expect(httpFailure(400, 'x')).toMatchObject({ permanent: true })
    expect(httpFailure(404, 'x')).toMatchObject({ permanent: true })
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'))).toBe(10_000)
    expect(parseRetryAfter('soon')).toBeUndefined()
  })
})

describe('circuit', () => {
  it('opens after consecutive failures, lets one probe through later, closes on success', () => {
    const circuit = createCircuit({ failures: 3, probeAfterMs: 1_000, maxProbeAfterMs: 4_000 })
    for (let i = 0; i < 3; i++) {
      expect(circuit.tryPass(0)).toBe(true)
      circuit.failure(0)
    }
    expect(circuit.state()).toBe('open')
    expect(circuit.tryPass(999)).toBe(false)
    expect(circuit.tryPass(1_000)).toBe(true) // the probe
    expect(circuit.tryPass(1_000)).toBe(false) // only one
    circuit.failure(1_000)
    expect(circuit.reopensAt()).toBe(3_000) // twice as long
    expect(circuit.tryPass(3_000)).toBe(true)
    circuit.success()
    expect(circuit.state()).toBe('closed')
    expect(circuit.tryPass(3_000)).toBe(true)
  })

  it('a success resets the count of failures', () => {
    const circuit = createCircuit({ failures: 2, probeAfterMs: 1_000, maxProbeAfterMs: 1_000 })
    circuit.failure(0)
    circuit.success()
    circuit.failure(0)
    expect(circuit.state()).toBe('closed')
  })
})

describe('MinHeap', () => {
  it('pops in key order', () => {
    const heap = new MinHeap<number>((n) => n)
    const values = Array.from({ length: 200 }, (_, i) => (i * 7919) % 211)
    for (const v of values) heap.push(v)
    const out: number[] = []
    while (heap.size > 0) out.push(heap.pop()!)
    expect(out).toEqual([...values].sort((a, b) => a - b))
  })

  it('pops items of equal key in the order its tie-breaker gives', () => {
    const heap = new MinHeap<{ key: number; seq: number }>(
      (item) => item.key,
      (item) => item.seq,
    )
    const items = Array.from({ length: 100 }, (_, seq) => ({ key: seq % 3 === 0 ? 5 : 0, seq }))
    for (const item of items) heap.push(item)
    const out: number[] = []
    while (heap.size > 0) out.push(heap.pop()!.seq)
    expect(out).toEqual([...items.filter((i) => i.key === 0), ...items.filter((i) => i.key === 5)].map((i) => i.seq))
  })
})

describe('dedup', () => {
  it('sees an id again within the window only', async () => {
    let now = 0
    const dedup = memoryDedupWindow(1_000, () => now)
    expect(await dedup.remember('a')).toBe(true)
    now = 999
    expect(await dedup.remember('a')).toBe(false)
    now = 1_000
    expect(await dedup.remember('a')).toBe(true)
    await dedup.forget('a')
    now = 1_001
    expect(await dedup.remember('a')).toBe(true)
  })
})

describe('concurrency per destination', () => {
  const concurrency = (delivery: unknown, name: string, ownDefault?: number) =>
    policyFromConfig(deliveryConfig.parse(delivery), name, ownDefault).concurrency

  it("is the destination's override, else the config's, else the destination's own default, else 8", () => {
    expect(concurrency({}, 'disk', 64)).toBe(64)
    expect(concurrency({}, 'slack')).toBe(8)
    expect(concurrency({ concurrency: 4 }, 'disk', 64)).toBe(4)
    expect(concurrency({ concurrency: 4, destinations: { disk: { concurrency: 2 } } }, 'disk', 64)).toBe(2)
    expect(concurrency({ destinations: { disk: { concurrency: 2 } } }, 'other', 16)).toBe(16)
  })

  it('the fs sink keeps many writes under way by default (a busy gateway needs them to keep up)', () => {
    expect(createFsSink('disk', fsSinkConfig.parse({ type: 'fs', dir: '/tmp/unused-hookcast-dir' })).concurrency).toBe(
      64,
    )
  })
})
