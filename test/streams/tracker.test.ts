/**
 * The stream tracker over a real store: live once, thumbnails, the flap window as a delayed check, restarts,
 * re-emission after a crash, and several trackers (instances) sharing one store.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createStreamTracker, type StreamTracker } from '../../src/streams/tracker.ts'
import { openLocalStreamStore } from '../../src/backends/local/stream-store.ts'
import { memoryStreamStore } from '../../src/streams/memory-stream-store.ts'
import type { StreamStore } from '../../src/streams/stream-store.ts'
import { DeliveryDeferred } from '../../src/destinations/types.ts'
import type { HookEvent } from '../../src/events/types.ts'
import { parseJsonHook, parseThumbnail } from '../../src/events/parse.ts'
import { silentLogger } from '../../src/log.ts'
import { jpeg, signedThumbnail } from '../support/hooks.ts'
import { tempDir } from '../support/files.ts'
import { eventually, sleep } from '../support/wait.ts'
import { timedChecks, type TimedChecks } from './support.ts'

const STREAM = 'ZG6NWV/show'
const ctx = { source: 'millicast', receivedAt: Date.now() }
const feed = (event: 'started' | 'ended', feedId: string, at: number, streamId = STREAM) =>
  parseJsonHook(
    new TextEncoder().encode(
      JSON.stringify({
        type: 'feeds',
        event,
        timestamp: at + 5,
        data: {
          feedId,
          accountId: 'ZG6NWV',
          name: streamId.split('/')[1],
          streamId,
          active: event === 'started',
          [event]: at,
        },
      }),
    ),
    { ...ctx, receivedAt: Date.now() },
  )
const thumb = async (at: number, seed = String(at)) => {
  const hook = await signedThumbnail({ body: jpeg(seed), streamId: STREAM, timestamp: at })
  return parseThumbnail(hook.body, new Headers(hook.headers), ctx)
}

describe('stream tracker', () => {
  let dir: ReturnType<typeof tempDir>
  let store: StreamStore
  let emitted: HookEvent[]
  let tracker: StreamTracker
  let checks: TimedChecks
  const record = async () => (await store.get(STREAM))?.record

  const make = async (flapWindowMs = 200) => {
    store = await openLocalStreamStore({ dir: dir.path, log: silentLogger })
    checks = timedChecks(() => tracker)
    tracker = createStreamTracker({
      store,
      flapWindowMs,
      emit: async (e) => {
        emitted.push(e)
      },
      scheduleCheck: checks.scheduleCheck,
      log: silentLogger,
    })
    await tracker.start()
  }

  beforeEach(async () => {
    dir = tempDir('hookcast-streams-')
    emitted = []
    await make()
  })
  afterEach(async () => {
    checks.stop()
    await tracker.close?.()
    await store.close()
    dir.remove()
  })

  it('emits live once, keeps the first and latest thumbnail, and emits ended after the flap window', async () => {
    const t0 = Date.now()
    await tracker.deliver(await feed('started', 'a', t0))
    await tracker.deliver(await feed('started', 'b', t0 + 10))
    const first = await thumb(t0 + 1_000)
    const later = await thumb(t0 + 31_000)
    await tracker.deliver(later)
    await tracker.deliver(first) // out of order: still the first of the session
    expect(emitted.map((e) => `${e.type}.${e.event}`)).toEqual(['stream.live'])
    expect(emitted[0]!.data).toMatchObject({ streamId: STREAM, streamName: 'show', liveSince: t0, feeds: ['a'] })
    const current = (await record())!
    expect(current.firstThumbnail?.eventId).toBe(first.id)
    expect(current.latestThumbnail?.eventId).toBe(later.id)
    expect(await store.thumbnail(STREAM, first.id)).toEqual(first.body)

    await tracker.deliver(await feed('ended', 'a', t0 + 40_000))
    await tracker.deliver(await feed('ended', 'b', t0 + 41_000))
    await eventually(() => emitted.length === 2, 20_000)
    expect(emitted[1]).toMatchObject({ type: 'stream', event: 'ended', timestamp: t0 + 41_000 })
    expect(emitted[1]!.data).toMatchObject({ durationMs: 41_000, session: emitted[0]!.data!.session })
    expect(await record()).toMatchObject({ status: 'ended', feeds: {} })
  })

  it('hooks of one stream that arrive together are written together, and the live alert is as its own hook left the stream', async () => {
    const t0 = Date.now()
    let puts = 0
    const put = store.put.bind(store)
    store.put = (...args) => {
      puts++
      return put(...args)
    }
    const hooks = await Promise.all(['a', 'b', 'c'].map((id, i) => feed('started', id, t0 + i)))
    await Promise.all(hooks.map((hook) => tracker.deliver(hook)))
    // Delivered in one go: one write (then one more, marking the live alert handed on).
    expect(puts).toBe(2)
    expect(emitted.map((e) => `${e.type}.${e.event}`)).toEqual(['stream.live'])
    expect(emitted[0]!.data).toMatchObject({ liveSince: t0, feeds: ['a'] })
    expect(Object.keys((await record())!.feeds).sort()).toEqual(['a', 'b', 'c'])
  })

  it('a flap within the window produces neither an ended nor a second live', async () => {
    const t0 = Date.now()
    await tracker.deliver(await feed('started', 'a', t0))
    await tracker.deliver(await feed('ended', 'a', t0 + 1_000))
    await tracker.deliver(await feed('started', 'a2', t0 + 1_500))
    await sleep(400)
    expect(emitted.map((e) => e.event)).toEqual(['live'])
    expect((await record())!.status).toBe('live')
  })

  it('keeps its state across a restart and finishes an ending session after it', async () => {
    const t0 = Date.now()
    await tracker.deliver(await feed('started', 'a', t0))
    await tracker.deliver(await feed('ended', 'a', t0 + 1_000))
    checks.stop() // the process goes, with the checks it held in memory: the restart must find the window itself
    await tracker.close?.()
    await store.close()
    emitted = []
    await make(200)
    await eventually(() => emitted.some((e) => e.event === 'ended'), 20_000)
    expect(emitted.map((e) => e.event)).toEqual(['ended'])
    expect(await record()).toMatchObject({ status: 'ended', liveSince: t0, endedAt: t0 + 1_000 })
  })

  it('re-emits a transition a crash interrupted before it was handed on', async () => {
    const t0 = Date.now()
    let failing = true
    await tracker.close?.()
    tracker = createStreamTracker({
      store,
      flapWindowMs: 200,
      log: silentLogger,
      scheduleCheck: checks.scheduleCheck,
      emit: async (e) => {
        if (failing) throw new Error('spool full')
        emitted.push(e)
      },
    })
    await expect(tracker.deliver(await feed('started', 'a', t0))).rejects.toThrow('spool full')
    failing = false
    await tracker.deliver(await feed('started', 'a', t0)) // the spool redelivers the hook
    expect(emitted.map((e) => e.event)).toEqual(['live'])
    await tracker.deliver(await feed('started', 'a', t0))
    expect(emitted).toHaveLength(1)
  })

  it('the flap window is a check scheduled for its end; one delivered early is deferred to that time', async () => {
    const t0 = Date.now()
    await tracker.deliver(await feed('started', 'a', t0))
    checks.stop() // hold the check: this test delivers it
    await tracker.deliver(await feed('ended', 'a', t0 + 1_000))
    const endingSince = (await record())!.endingSince!
    expect(checks.scheduled).toHaveLength(1)
    const { check, at } = checks.scheduled[0]!
    expect(at).toBe(endingSince + 200)
    expect(check).toMatchObject({ type: 'hookcast.check', source: 'hookcast', streamId: STREAM, timestamp: at })
    const early = await tracker.deliver(check).then(
      () => undefined,
      (error: unknown) => error,
    )
    expect(early).toBeInstanceOf(DeliveryDeferred)
    expect((early as DeliveryDeferred).until).toBe(at)
    expect((await record())!.status).toBe('ending')
    await sleep(Math.max(0, at - Date.now()) + 5)
    await tracker.deliver(check)
    expect(emitted.map((e) => e.event)).toEqual(['live', 'ended'])
    await tracker.deliver(check) // delivered again (a redelivery): nothing more
    expect(emitted).toHaveLength(2)
  })
})

describe('several trackers sharing one store (instances behind a load balancer)', () => {
  const trackers: StreamTracker[] = []
  const allChecks: TimedChecks[] = []
  afterEach(async () => {
    for (const checks of allChecks.splice(0)) checks.stop()
    for (const tracker of trackers.splice(0)) await tracker.close?.()
  })

  /** A memory store whose reads and writes take a random few turns of the event loop, so racing writers interleave. */
  const jittery = (inner: StreamStore): StreamStore => {
    const pause = () => new Promise((resolve) => setTimeout(resolve, Math.random() * 3))
    return {
      ...inner,
      get: async (id) => {
        await pause()
        return inner.get(id)
      },
      put: async (id, record, expected, options) => {
        await pause()
        return inner.put(id, record, expected, options)
      },
    }
  }

  /** `count` trackers over one store, sharing one queue of checks that gives each check to any of them. */
  const instances = (count: number, store: StreamStore, emitted: HookEvent[], flapWindowMs = 100) => {
    const made: StreamTracker[] = []
    const checks = timedChecks(() => made[Math.floor(Math.random() * made.length)]!)
    allChecks.push(checks)
    for (let i = 0; i < count; i++) {
      made.push(
        createStreamTracker({
          store,
          flapWindowMs,
          emit: async (e) => {
            emitted.push(e)
          },
          scheduleCheck: checks.scheduleCheck,
          log: silentLogger,
        }),
      )
    }
    trackers.push(...made)
    return made
  }

  it('two trackers racing on one stream hand on exactly one live and one ended per session', async () => {
    const emitted: HookEvent[] = []
    const store = jittery(memoryStreamStore())
    const [a, b] = instances(2, store, emitted)
    const base = Date.now() - 60_000
    const over = async () => {
      const record = (await store.get(STREAM))?.record
      return record?.status === 'ended' && record.emitted.ended === record.session
    }
    for (let session = 0; session < 5; session++) {
      const t = base + session * 5_000
      // The feeds of one stream reach either instance, in no order, at once.
      await Promise.all([
        a!.deliver(await feed('started', 'x', t)),
        b!.deliver(await feed('started', 'y', t + 10)),
        a!.deliver(await feed('started', 'z', t + 20)),
      ])
      await Promise.all([
        a!.deliver(await thumb(t + 500, `a${session}`)),
        b!.deliver(await thumb(t + 600, `b${session}`)),
      ])
      await Promise.all([
        b!.deliver(await feed('ended', 'x', t + 1_000)),
        a!.deliver(await feed('ended', 'y', t + 1_010)),
        b!.deliver(await feed('ended', 'z', t + 1_020)),
      ])
      await eventually(over, 20_000)
    }
    await sleep(300) // checks still under way, or scheduled twice, would emit now
    const counts = new Map<string, number>()
    for (const event of emitted)
      counts.set(
        `${event.data!.session}:${event.event}`,
        (counts.get(`${event.data!.session}:${event.event}`) ?? 0) + 1,
      )
    expect([...counts.values()]).toEqual(Array(10).fill(1))
    expect(emitted.filter((e) => e.event === 'live')).toHaveLength(5)
    expect(emitted.filter((e) => e.event === 'ended')).toHaveLength(5)
  })

  it('a transition claimed by a delivery that failed is handed on by its retry, not by another instance', async () => {
    const emitted: HookEvent[] = []
    const store = memoryStreamStore()
    let failing = true
    const checks = timedChecks(() => b!)
    allChecks.push(checks)
    const a = createStreamTracker({
      store,
      flapWindowMs: 100,
      log: silentLogger,
      scheduleCheck: checks.scheduleCheck,
      emit: async (e) => {
        if (failing) throw new Error('queue unreachable')
        emitted.push(e)
      },
    })
    const [b] = instances(1, store, emitted)
    trackers.push(a)
    const t0 = Date.now() - 10_000
    const first = await feed('started', 'x', t0)
    await expect(a.deliver(first)).rejects.toThrow('queue unreachable')
    await b!.deliver(await feed('started', 'y', t0 + 10)) // another instance, another feed of the stream
    expect(emitted).toEqual([])
    failing = false
    await a.deliver(first) // the queue retries the failed delivery
    expect(emitted.map((e) => e.event)).toEqual(['live'])
  })

  it('the instance that saw the last ended dies: another one ends the session', async () => {
    const emitted: HookEvent[] = []
    const store = memoryStreamStore()
    const [a, b] = instances(2, store, emitted)
    const t0 = Date.now() - 10_000
    await a!.deliver(await feed('started', 'x', t0))
    // `a` schedules the check in the queue, then goes away; the queue gives the check to `b`.
    allChecks[0]!.stop()
    const handOff = timedChecks(() => b!)
    allChecks.push(handOff)
    const dying = createStreamTracker({
      store,
      flapWindowMs: 100,
      emit: async (e) => {
        emitted.push(e)
      },
      scheduleCheck: handOff.scheduleCheck,
      log: silentLogger,
    })
    await dying.deliver(await feed('ended', 'x', t0 + 1_000))
    await dying.close?.()
    await a!.close?.()
    await eventually(() => emitted.some((e) => e.event === 'ended'), 20_000)
    expect(emitted.map((e) => e.event)).toEqual(['live', 'ended'])
    expect((await store.get(STREAM))!.record.status).toBe('ended')
  })

  it("a thumbnail that arrives before its started, on an instance that dies at once, is still the session's first", async () => {
    const emitted: HookEvent[] = []
    const store = memoryStreamStore()
    const [a, b] = instances(2, store, emitted)
    const t0 = Date.now() - 10_000
    const early = await thumb(t0 + 1_000, 'early')
    await a!.deliver(early) // no session yet: kept durably, not only in a's memory
    // `a` dies without closing (nothing it held in memory survives).
    await b!.deliver(await feed('started', 'x', t0))
    await b!.deliver(await thumb(t0 + 31_000, 'later'))
    expect((await store.get(STREAM))!.record.firstThumbnail?.eventId).toBe(early.id)
  })

  it('a stream that is not live keeps a thumbnail durably at most once a second; the newest waits in memory', async () => {
    const store = memoryStreamStore()
    const [a, b] = instances(2, store, [])
    const t0 = Date.now() - 10_000
    const kept = await thumb(t0, 'kept')
    await a!.deliver(kept)
    for (let i = 1; i <= 5; i++) await a!.deliver(await thumb(t0 + i * 100, `flood-${i}`))
    // What another instance sees: the one kept durably, not the flood that came within the second after it.
    expect((await store.get(STREAM))!.record.latestThumbnail?.eventId).toBe(kept.id)
    const later = await thumb(t0 + 1_100, 'a second later')
    await a!.deliver(later)
    expect((await store.get(STREAM))!.record.latestThumbnail?.eventId).toBe(later.id)
    // The session starts on the other instance: the thumbnail kept durably is its first.
    await b!.deliver(await feed('started', 'x', t0 + 1_000))
    expect((await store.get(STREAM))!.record.firstThumbnail?.eventId).toBe(later.id)
  })

  it('deliveries of one stream under way at once change it one after another, without colliding in the store', async () => {
    const store = memoryStreamStore()
    let conflicts = 0
    const counting: StreamStore = {
      ...store,
      put: async (...args) => {
        const outcome = await store.put(...args)
        if (outcome === 'conflict') conflicts++
        return outcome
      },
    }
    const [a] = instances(1, counting, [])
    const t0 = Date.now() - 10_000
    await Promise.all(
      Array.from({ length: 32 }, async (_, i) => a!.deliver(await feed('started', `feed-${i}`, t0 + i))),
    )
    expect(Object.keys((await store.get(STREAM))!.record.feeds)).toHaveLength(32)
    expect(conflicts).toBe(0)
  })
})
