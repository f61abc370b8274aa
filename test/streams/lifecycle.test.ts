import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { applyFeed, createStreamTracker } from '../../src/streams/tracker.ts'
import { openLocalStreamStore } from '../../src/streams/local-store.ts'
import type { StreamRecord, StreamStore } from '../../src/streams/types.ts'
import type { HookEvent } from '../../src/events/types.ts'
import { parseJsonHook, parseThumbnail } from '../../src/events/parse.ts'
import { silentLogger } from '../../src/log.ts'
import { jpeg, signedThumbnail } from '../support/hooks.ts'
import { tempDir } from '../support/files.ts'
import { eventually, sleep } from '../support/wait.ts'

const STREAM = 'ZG6NWV/show'
const fresh = (): StreamRecord => ({ streamId: STREAM, status: 'ended', feeds: {}, alerts: {}, emitted: {}, updatedAt: 0 })

describe('applyFeed', () => {
  it('goes live once for several feeds, and ends when the last one ends', () => {
    const r = fresh()
    applyFeed(r, 'a', 'started', 1_000, 0)
    expect(r).toMatchObject({ status: 'live', liveSince: 1_000, session: `${STREAM}@1000` })
    applyFeed(r, 'b', 'started', 2_000, 0)
    expect(r.session).toBe(`${STREAM}@1000`)
    applyFeed(r, 'a', 'ended', 3_000, 0)
    expect(r.status).toBe('live')
    applyFeed(r, 'b', 'ended', 4_000, 50)
    expect(r).toMatchObject({ status: 'ending', endedAt: 4_000, endingSince: 50, session: `${STREAM}@1000` })
  })

  it('takes the earliest start of the active feeds when hooks arrive out of order', () => {
    const r = fresh()
    applyFeed(r, 'b', 'started', 2_000, 0)
    applyFeed(r, 'a', 'started', 1_000, 0)
    expect(r.liveSince).toBe(2_000) // live from the first hook seen; a later, earlier start does not move the session
    expect(r.session).toBe(`${STREAM}@2000`)
  })

  it('treats a reconnect within the window as the same session (a flap)', () => {
    const r = fresh()
    applyFeed(r, 'a', 'started', 1_000, 0)
    applyFeed(r, 'a', 'ended', 5_000, 10)
    expect(r.status).toBe('ending')
    applyFeed(r, 'b', 'started', 6_000, 20)
    expect(r).toMatchObject({ status: 'live', session: `${STREAM}@1000` })
    expect(r.endingSince).toBeUndefined()
  })

  it('an ended before its started: a short publish is still a session', () => {
    const r = fresh()
    applyFeed(r, 'a', 'ended', 2_000, 0)
    expect(r.status).toBe('ended')
    expect(r.session).toBeUndefined()
    applyFeed(r, 'a', 'started', 1_000, 5)
    expect(r).toMatchObject({ status: 'ending', liveSince: 1_000, endedAt: 2_000, session: `${STREAM}@1000`, endingSince: 5 })
  })

  it('ignores hooks of a session that is already over', () => {
    const r = fresh()
    applyFeed(r, 'a', 'started', 1_000, 0)
    applyFeed(r, 'a', 'ended', 2_000, 0)
    r.status = 'ended' // the flap window passed
    delete r.feeds.a
    applyFeed(r, 'old', 'started', 500, 0)
    expect(r.status).toBe('ended')
    expect(r.feeds).toEqual({})
    applyFeed(r, 'next', 'started', 9_000, 0)
    expect(r).toMatchObject({ status: 'live', session: `${STREAM}@9000` })
  })
})

describe('stream tracker', () => {
  let dir: ReturnType<typeof tempDir>
  let store: StreamStore
  let emitted: HookEvent[]
  let tracker: ReturnType<typeof createStreamTracker>
  const ctx = { source: 'millicast', receivedAt: Date.now() }

  const make = async (flapWindowMs = 200) => {
    store = await openLocalStreamStore({ dir: dir.path, log: silentLogger })
    tracker = createStreamTracker({ store, flapWindowMs, emit: async (e) => { emitted.push(e) }, log: silentLogger })
    await tracker.start()
  }
  const feed = (event: 'started' | 'ended', feedId: string, at: number) => parseJsonHook(new TextEncoder().encode(JSON.stringify({
    type: 'feeds', event, timestamp: at + 5,
    data: { feedId, accountId: 'ZG6NWV', name: 'show', streamId: STREAM, active: event === 'started', [event]: at },
  })), ctx)
  const thumb = async (at: number, seed = String(at)) => {
    const hook = await signedThumbnail({ body: jpeg(seed), streamId: STREAM, timestamp: at })
    return parseThumbnail(hook.body, new Headers(hook.headers), ctx)
  }

  beforeEach(async () => {
    dir = tempDir('hookcast-streams-')
    emitted = []
    await make()
  })
  afterEach(async () => {
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
    const record = store.get(STREAM)!
    expect(record.firstThumbnail?.eventId).toBe(first.id)
    expect(record.latestThumbnail?.eventId).toBe(later.id)
    expect(await store.thumbnail(STREAM, first.id)).toEqual(first.body)

    await tracker.deliver(await feed('ended', 'a', t0 + 40_000))
    await tracker.deliver(await feed('ended', 'b', t0 + 41_000))
    await eventually(() => emitted.length === 2, 5_000)
    expect(emitted[1]).toMatchObject({ type: 'stream', event: 'ended', timestamp: t0 + 41_000 })
    expect(emitted[1]!.data).toMatchObject({ durationMs: 41_000, session: emitted[0]!.data!.session })
    expect(store.get(STREAM)).toMatchObject({ status: 'ended', feeds: {} })
  })

  it('a flap within the window produces neither an ended nor a second live', async () => {
    const t0 = Date.now()
    await tracker.deliver(await feed('started', 'a', t0))
    await tracker.deliver(await feed('ended', 'a', t0 + 1_000))
    await tracker.deliver(await feed('started', 'a2', t0 + 1_500))
    await sleep(400)
    expect(emitted.map((e) => e.event)).toEqual(['live'])
    expect(store.get(STREAM)!.status).toBe('live')
  })

  it('keeps its state across a restart and finishes an ending session after it', async () => {
    const t0 = Date.now()
    await tracker.deliver(await feed('started', 'a', t0))
    await tracker.deliver(await feed('ended', 'a', t0 + 1_000))
    await tracker.close?.()
    await store.close()
    emitted = []
    await make(200)
    await eventually(() => emitted.some((e) => e.event === 'ended'), 5_000)
    expect(emitted.map((e) => e.event)).toEqual(['ended'])
    expect(store.get(STREAM)).toMatchObject({ status: 'ended', liveSince: t0, endedAt: t0 + 1_000 })
  })

  it('re-emits a transition a crash interrupted before it was handed on', async () => {
    const t0 = Date.now()
    let failing = true
    await tracker.close?.()
    tracker = createStreamTracker({
      store, flapWindowMs: 200, log: silentLogger,
      emit: async (e) => { if (failing) throw new Error('spool full'); emitted.push(e) },
    })
    await expect(tracker.deliver(await feed('started', 'a', t0))).rejects.toThrow('spool full')
    failing = false
    await tracker.deliver(await feed('started', 'a', t0)) // the spool redelivers the hook
    expect(emitted.map((e) => e.event)).toEqual(['live'])
    await tracker.deliver(await feed('started', 'a', t0))
    expect(emitted).toHaveLength(1)
  })
})
