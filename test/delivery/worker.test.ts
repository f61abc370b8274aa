import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startWorker } from '../../src/delivery/worker.ts'
import type { DeliveryPolicy, OutcomeReport } from '../../src/delivery/deliver-one.ts'
import { openLocalQueue } from '../../src/backends/local/queue.ts'
import { LeaseLostError, type Queue } from '../../src/queue/types.ts'
import { DeliveryDeferred, DeliveryError, type Destination } from '../../src/destinations/types.ts'
import type { HookEvent } from '../../src/events/types.ts'
import { createLogger, silentLogger } from '../../src/log.ts'
import { makeEvent } from '../support/events.ts'
import { crcOf } from '../../src/events/body-check.ts'
import { tempDir } from '../support/files.ts'
import { eventually, sleep } from '../support/wait.ts'

const POLICY: DeliveryPolicy = {
  concurrency: 4,
  timeoutMs: 2_000,
  retry: { scheduleMs: [30, 60], jitter: 0, maxAgeMs: 60_000 },
  circuit: { failures: 100, probeAfterMs: 100, maxProbeAfterMs: 100 },
}

/** A destination that records calls (at `now`) and answers as `behaviour` says. */
function recorder(
  name: string,
  behaviour: (event: HookEvent, call: number) => Promise<void> | void = () => {},
  now = Date.now,
) {
  const calls: Array<{ id: string; at: number }> = []
  let active = 0
  let maxActive = 0
  const destination: Destination = {
    name,
    kind: 'sink',
    async deliver(event) {
      calls.push({ id: event.id, at: now() })
      active++
      maxActive = Math.max(maxActive, active)
      try {
        await behaviour(event, calls.length)
      } finally {
        active--
      }
    },
  }
  return { destination, calls, maxActive: () => maxActive }
}

let dir: ReturnType<typeof tempDir>
let store: Queue
let closeDeliverer: (() => Promise<void>) | undefined

beforeEach(async () => {
  dir = tempDir('hookcast-deliver-')
  store = await openLocalQueue({
    dir: dir.path,
    fsync: false,
    maxBytes: 1e9,
    segmentBytes: 1e7,
    cacheBytes: 1e7,
    log: silentLogger,
  })
})
afterEach(async () => {
  await closeDeliverer?.()
  closeDeliverer = undefined
  await store.close()
  dir.remove()
})

function start(
  destinations: Destination[],
  policy: (name: string) => DeliveryPolicy = () => POLICY,
  queue: Queue = store,
  laneBodyBytes?: number,
) {
  const outcomes: OutcomeReport[] = []
  const spoolErrors: string[] = []
  const accept = async (count: number, names: string[]) => {
    for (let i = 0; i < count; i++)
      await store.put(makeEvent({ id: `ev${i}`, body: new Uint8Array([i]), receivedAt: Date.now() }), names)
  }
  const deliverer = startWorker({
    queue,
    destinations: new Map(destinations.map((d) => [d.name, d])),
    policyFor: policy,
    log: silentLogger,
    onOutcome: (report) => outcomes.push(report),
    onQueueError: (step) => spoolErrors.push(step),
    ...(laneBodyBytes ? { laneBodyBytes } : {}),
  })
  closeDeliverer = () => deliverer.close(100)
  return { deliverer, outcomes, accept, spoolErrors }
}

describe('worker', () => {
  it('delivers every event to every destination once', async () => {
    const a = recorder('a')
    const b = recorder('b')
    const { accept } = start([a.destination, b.destination])
    await accept(30, ['a', 'b'])
    await eventually(() => a.calls.length === 30 && b.calls.length === 30)
    await eventually(async () => (await store.stats()).pendingDeliveries === 0)
    await sleep(100)
    expect(new Set(a.calls.map((c) => c.id)).size).toBe(30)
    expect(a.calls.length + b.calls.length).toBe(60)
  })

  it("logs a delivery at info, one to hookcast's own destinations (`@streams`) at debug", async () => {
    const lines: Array<{ level: string; msg: string; destination?: string }> = []
    const deliverer = startWorker({
      queue: store,
      destinations: new Map([
        ['disk', recorder('disk').destination],
        ['@streams', recorder('@streams').destination],
      ]),
      policyFor: () => POLICY,
      log: createLogger('debug', (line) => lines.push(JSON.parse(line))),
    })
    closeDeliverer = () => deliverer.close(100)
    await store.put(makeEvent({ id: 'logged', body: new Uint8Array([1]), receivedAt: Date.now() }), [
      'disk',
      '@streams',
    ])
    await eventually(() => lines.filter((line) => line.msg === 'delivered').length === 2)
    const levels = Object.fromEntries(
      lines.filter((line) => line.msg === 'delivered').map((line) => [line.destination, line.level]),
    )
    expect(levels).toEqual({ disk: 'info', '@streams': 'debug' })
  })

  it('never lets a stuck destination delay another', async () => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const stuck = recorder('stuck', () => gate)
    const fast = recorder('fast')
    const { accept } = start([stuck.destination, fast.destination])
    await accept(20, ['stuck', 'fast'])
    await eventually(() => fast.calls.length === 20)
    expect(stuck.calls.length).toBe(POLICY.concurrency) // its lane is full and waiting; the other lane is done
    release()
    await eventually(() => stuck.calls.length === 20)
  })

  it('keeps the body bytes a lane holds to its budget: large bodies, fewer under way than the concurrency', async () => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const slow = recorder('big', () => gate)
    start([slow.destination], () => ({ ...POLICY, concurrency: 64 }), store, 16 * 1024 * 1024)
    const body = new Uint8Array(4 * 1024 * 1024) // 16 MiB for the lane: four of these
    for (let i = 0; i < 12; i++)
      await store.put(makeEvent({ id: `big${i}`, body, bodyCrc32: crcOf(body), receivedAt: Date.now() }), ['big'])
    await eventually(() => slow.calls.length >= 4)
    await sleep(200)
    expect(slow.calls.length).toBe(4)
    release()
    await eventually(() => slow.calls.length === 12)
    expect(slow.maxActive()).toBe(4)
  })

  it('keeps to the concurrency limit', async () => {
    const slow = recorder('slow', () => sleep(20))
    const { accept } = start([slow.destination])
    await accept(20, ['slow'])
    await eventually(() => slow.calls.length === 20)
    expect(slow.maxActive()).toBe(POLICY.concurrency)
  })

  it('many deliveries under way at once raise no listener-leak warning (each listens for the shutdown, then stops)', async () => {
    const warnings: string[] = []
    const onWarning = (warning: Error) => warnings.push(warning.name)
    process.on('warning', onWarning)
    try {
      // All 64 held under way at once (each listening), then let go.
      let release!: () => void
      const gate = new Promise<void>((resolve) => {
        release = resolve
      })
      const slow = recorder('slow', () => gate)
      const { accept } = start([slow.destination], () => ({ ...POLICY, concurrency: 64 }))
      await accept(64, ['slow'])
      await eventually(() => slow.calls.length === 64)
      expect(slow.maxActive()).toBe(64)
      release()
      await eventually(async () => (await store.stats()).pendingDeliveries === 0)
      await sleep(20) // a warning is emitted on a later tick
    } finally {
      process.off('warning', onWarning)
    }
    expect(warnings).not.toContain('MaxListenersExceededWarning')
  })

  it('retries transient failures and does not repeat a destination that succeeded', async () => {
    const flaky = recorder('flaky', (_, call) => {
      if (call <= 2) throw new Error('connection reset')
    })
    const steady = recorder('steady')
    const { accept, outcomes } = start([flaky.destination, steady.destination])
    await accept(1, ['flaky', 'steady'])
    await eventually(() => outcomes.some((o) => o.destination === 'flaky' && o.outcome === 'delivered'))
    expect(flaky.calls).toHaveLength(3)
    expect(steady.calls).toHaveLength(1)
    expect(outcomes.filter((o) => o.destination === 'flaky').map((o) => o.outcome)).toEqual([
      'retry',
      'retry',
      'delivered',
    ])
    // Waits followed the schedule (30 ms, then 60 ms).
    expect(flaky.calls[1]!.at - flaky.calls[0]!.at).toBeGreaterThanOrEqual(29)
    expect(flaky.calls[2]!.at - flaky.calls[1]!.at).toBeGreaterThanOrEqual(59)
  })

  it('sends a permanent failure straight to dead letters, with its attempt', async () => {
    const refusing = recorder('refusing', () => {
      throw new DeliveryError('refusing answered 400', { permanent: true })
    })
    const { accept, outcomes } = start([refusing.destination])
    await accept(1, ['refusing'])
    await eventually(() => outcomes.length === 1)
    expect(outcomes[0]).toMatchObject({ outcome: 'dead', attempt: 1 })
    expect(refusing.calls).toHaveLength(1)
    expect(await store.deadLetters()).toEqual([
      expect.objectContaining({
        destination: 'refusing',
        attempts: [expect.objectContaining({ error: 'refusing answered 400' })],
      }),
    ])
  })

  it('gives up when the max age passes', async () => {
    const down = recorder('down', () => {
      throw new Error('ECONNREFUSED')
    })
    const { accept, outcomes } = start([down.destination], () => ({
      ...POLICY,
      retry: { scheduleMs: [20], jitter: 0, maxAgeMs: 100 },
    }))
    await accept(1, ['down'])
    await eventually(() => outcomes.at(-1)?.outcome === 'dead')
    // How many attempts fit in 100 ms depends on how busy the machine is; the rule does not: each failure is tried
    // again while the next attempt falls within the max age, and the first whose next attempt would not is dead.
    const [letter] = await store.deadLetters()
    expect(letter!.attempts).toHaveLength(down.calls.length)
    expect(outcomes.map((o) => o.outcome)).toEqual([...letter!.attempts.slice(1).map(() => 'retry'), 'dead'])
    for (const retry of outcomes.slice(0, -1)) expect(retry.nextAt! - letter!.receivedAt).toBeLessThanOrEqual(100)
    expect(letter!.attempts.at(-1)!.at + 20 - letter!.receivedAt).toBeGreaterThan(100)
    expect(outcomes.at(-1)!.error).toMatch(/max age/)
  })

  it('stops calling a destination whose circuit opened, then probes it once', async () => {
    // The worker's circuit and the queue's due times read one clock, moved by the test: the circuit stays open until
    // the test moves it past the probe time, however slow the machine.
    let clock = Date.now()
    const now = () => clock
    const queue = await openLocalQueue({
      dir: `${dir.path}/clocked`,
      fsync: false,
      maxBytes: 1e9,
      segmentBytes: 1e7,
      cacheBytes: 1e7,
      log: silentLogger,
      now,
    })
    try {
      let healthy = false
      const down = recorder(
        'down',
        () => {
          if (!healthy) throw new Error('503')
        },
        now,
      )
      const deliverer = startWorker({
        queue,
        destinations: new Map([['down', down.destination]]),
        log: silentLogger,
        now,
        policyFor: () => ({
          ...POLICY,
          concurrency: 1,
          retry: { scheduleMs: [10], jitter: 0, maxAgeMs: 60_000 },
          circuit: { failures: 3, probeAfterMs: 300, maxProbeAfterMs: 300 },
        }),
      })
      closeDeliverer = () => deliverer.close(100)
      for (let i = 0; i < 5; i++) {
        await queue.put(makeEvent({ id: `ev${i}`, body: new Uint8Array([i]), receivedAt: clock }), ['down'])
      }
      await eventually(() => down.calls.length === 3)
      expect(deliverer.lanes()[0]!.circuit).toBe('open')
      clock += 299 // every delivery is due again, but the probe time is 1 ms away
      await sleep(500)
      expect(down.calls).toHaveLength(3) // open: 5 deliveries waiting, none tried
      healthy = true
      clock += 1
      await eventually(() => down.calls.length === 8) // the probe succeeded: everything flows again
      expect(down.calls[3]!.at - down.calls[2]!.at).toBeGreaterThanOrEqual(300)
      expect(deliverer.lanes()[0]!.circuit).toBe('closed')
    } finally {
      await closeDeliverer?.()
      closeDeliverer = undefined
      await queue.close()
    }
  })

  it('times out an attempt that hangs and retries it', async () => {
    const hanging = recorder('hanging', (_, call) => (call === 1 ? new Promise<void>(() => {}) : undefined))
    const { accept, outcomes } = start([hanging.destination], () => ({ ...POLICY, timeoutMs: 50 }))
    await accept(1, ['hanging'])
    await eventually(() => outcomes.some((o) => o.outcome === 'delivered'))
    expect(outcomes[0]).toMatchObject({ outcome: 'retry', error: expect.stringContaining('timed out') })
  })

  it('on close, abandons deliveries under way after the grace time; they stay pending', async () => {
    const hanging = recorder('hanging', () => new Promise<void>(() => {}))
    const { deliverer, accept } = start([hanging.destination])
    await accept(2, ['hanging'])
    await eventually(() => hanging.calls.length === 2)
    await deliverer.close(50)
    closeDeliverer = undefined
    expect((await store.stats()).pendingDeliveries).toBe(2)
    expect(await store.deadLetters()).toEqual([])
  })

  it('does not blame the destination when the spool fails to record a success', async () => {
    let failures = 2
    const flakySpool: Queue = {
      ...store,
      async ack(claim) {
        if (failures-- > 0) throw new Error('ENOSPC: no space left on device')
        return store.ack(claim)
      },
    }
    const sink = recorder('sink')
    const { accept, outcomes, spoolErrors, deliverer } = start(
      [sink.destination],
      () => ({ ...POLICY, circuit: { failures: 1, probeAfterMs: 60_000, maxProbeAfterMs: 60_000 } }),
      flakySpool,
    )
    await accept(1, ['sink'])
    await eventually(async () => (await store.stats()).pendingDeliveries === 0, 10_000)
    expect(sink.calls).toHaveLength(1) // delivered once; only the record was retried
    expect(outcomes.map((o) => o.outcome)).toEqual(['delivered'])
    expect(spoolErrors).toEqual(['record', 'record'])
    expect(deliverer.lanes()[0]!.circuit).toBe('closed') // one failure would have opened it
    expect(await store.deadLetters()).toEqual([])
  })

  it('moves the circuit on after every outcome of a probe: a dead letter does not stall the lane', async () => {
    // 503 until the circuit opens, then the probe gets a 400 (dead letter), then everything is fine.
    let call = 0
    const flaky = recorder('flaky', () => {
      call++
      if (call <= 3) throw new DeliveryError('flaky answered 503')
      if (call === 4) throw new DeliveryError('flaky answered 400', { permanent: true })
    })
    const { accept, outcomes } = start([flaky.destination], () => ({
      ...POLICY,
      concurrency: 1,
      retry: { scheduleMs: [10], jitter: 0, maxAgeMs: 60_000 },
      circuit: { failures: 3, probeAfterMs: 100, maxProbeAfterMs: 100 },
    }))
    await accept(10, ['flaky'])
    await eventually(() => outcomes.filter((o) => o.outcome === 'delivered').length === 9, 20_000)
    expect(outcomes.filter((o) => o.outcome === 'dead')).toHaveLength(1)
    expect((await store.stats()).pendingDeliveries).toBe(0)
  })

  it('moves the circuit on when the probe is deferred', async () => {
    let call = 0
    let circuitAtCall4: string | undefined
    const deferring = recorder('deferring', () => {
      call++
      if (call <= 3) throw new DeliveryError('deferring answered 503')
      if (call === 4) {
        circuitAtCall4 = deliverer.lanes()[0]!.circuit
        throw new DeliveryDeferred('waiting for a thumbnail', Date.now() + 200)
      }
    })
    const { accept, outcomes, deliverer } = start([deferring.destination], () => ({
      ...POLICY,
      concurrency: 1,
      retry: { scheduleMs: [10], jitter: 0, maxAgeMs: 60_000 },
      circuit: { failures: 3, probeAfterMs: 100, maxProbeAfterMs: 100 },
    }))
    await accept(5, ['deferring'])
    await eventually(() => outcomes.filter((o) => o.outcome === 'delivered').length === 5)
    expect(circuitAtCall4).toBe('half-open') // the deferred call was the probe
    // Three failures, the deferred probe (no outcome, no attempt), then every event delivered once, that one too.
    expect(outcomes.map((o) => o.outcome)).toEqual([...Array(3).fill('retry'), ...Array(5).fill('delivered')])
    expect(deferring.calls).toHaveLength(9)
    expect(outcomes.filter((o) => o.outcome === 'delivered').map((o) => o.eventId)).toContain(deferring.calls[3]!.id)
    expect(deliverer.lanes()[0]!.circuit).toBe('closed')
  })

  it('dead-letters an event that hookcast itself cannot process, at once, and keeps the lane going', async () => {
    const poisoned = recorder('poisoned', (event) => {
      if (event.id === 'ev1') new Date(-1e20).toISOString() // RangeError: Invalid time value, every time
    })
    const { accept, outcomes } = start([poisoned.destination], () => ({
      ...POLICY,
      circuit: { failures: 1, probeAfterMs: 60_000, maxProbeAfterMs: 60_000 },
    }))
    await accept(5, ['poisoned'])
    await eventually(() => outcomes.length === 5)
    expect(outcomes.find((o) => o.eventId === 'ev1')).toMatchObject({
      outcome: 'dead',
      attempt: 1,
      error: expect.stringContaining('Invalid time value'),
    })
    expect(outcomes.filter((o) => o.outcome === 'delivered')).toHaveLength(4)
    expect(poisoned.calls.filter((c) => c.id === 'ev1')).toHaveLength(1)
  })

  it('dead-letters at once the deliveries of a destination no longer configured, and keeps the others going', async () => {
    const sink = recorder('sink')
    // Put before the worker starts: a lane for `gone` comes only from the queue's stats.
    await store.put(makeEvent({ id: 'ev0', body: new Uint8Array([0]), receivedAt: Date.now() }), ['sink', 'gone'])
    const { outcomes } = start([sink.destination])
    await eventually(() => outcomes.length === 2, 10_000)
    expect(outcomes.find((o) => o.destination === 'gone')).toMatchObject({
      outcome: 'dead',
      attempt: 1,
      error: expect.stringContaining('destination "gone" is not configured any more'),
    })
    expect(outcomes.find((o) => o.destination === 'sink')).toMatchObject({ outcome: 'delivered' })
    expect((await store.deadLetters()).map((d) => d.destination)).toEqual(['gone'])
  })

  it('retries later, without an attempt, when the spool cannot load the event', async () => {
    let failures = 1
    const flakySpool: Queue = {
      ...store,
      async load(claim) {
        if (failures-- > 0) throw new Error('EIO: i/o error')
        return store.load(claim)
      },
    }
    const sink = recorder('sink')
    const { accept, outcomes, spoolErrors } = start([sink.destination], () => POLICY, flakySpool)
    await accept(1, ['sink'])
    await eventually(() => outcomes.length === 1, 10_000)
    expect(outcomes[0]).toMatchObject({ outcome: 'delivered', attempt: 1 })
    expect(spoolErrors).toEqual(['load'])
  })

  it("leaves a claim that turned out to be another worker's: nothing recorded, no spool error, no destination call", async () => {
    const retried: string[] = []
    let loads = 0
    const lostSpool: Queue = {
      ...store,
      async load(claim) {
        loads++
        throw new LeaseLostError(`claim of ${claim.eventId} for ${claim.destination} was made by another instance`)
      },
      async retry(claim, at, attempt) {
        retried.push(claim.eventId)
        return store.retry(claim, at, attempt)
      },
    }
    const sink = recorder('sink')
    const { accept, outcomes, spoolErrors, deliverer } = start([sink.destination], () => POLICY, lostSpool)
    await accept(1, ['sink'])
    // Handled once the lane has nothing under way again after the load.
    await eventually(() => loads > 0 && deliverer.lanes()[0]?.inFlight === 0, 10_000)
    expect(retried).toEqual([])
    expect(spoolErrors).toEqual([])
    expect(outcomes).toEqual([])
    expect(sink.calls).toEqual([])
  })
})
