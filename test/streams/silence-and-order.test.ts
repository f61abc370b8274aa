/**
 * Ending by silence and the order of hooks, through the tracker on an injected clock: a session nobody hears from
 * ends (`endedBy: silence`), other hooks keep it alive cheaply, a record last heard from in 2021 is not live after a
 * start, a later hook starts a new session; an `ended` before its `started`, thumbnails after `ended`, and two feeds
 * of one stream (redundant ingest with `priority`, several sources with `sourceId`).
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { memoryStreamStore } from '../../src/streams/memory-stream-store.ts'
import type { StreamStore } from '../../src/streams/stream-store.ts'
import type { StreamRecord } from '../../src/streams/stream-types.ts'
import { pictureFixtures, type PictureFixtures } from '../support/pictures.ts'
import { clockedTracker, T0 } from './clocked-tracker.ts'

const STREAM = 'ZG6NWV/show'
const MINUTE = 60_000
let pictures: PictureFixtures

beforeAll(async () => {
  pictures = await pictureFixtures()
}, 120_000)

const setup = (store: StreamStore = memoryStreamStore()) => {
  const clock = { now: T0 }
  const t = clockedTracker({ store, clock, streamId: STREAM })
  const record = async () => (await store.get(STREAM))!.record
  const ended = () => t.emitted.filter((e) => e.event === 'ended')
  return { store, clock, t, record, ended }
}

/** Counts the store's writes of records. */
function countingPuts(store: StreamStore): { store: StreamStore; puts: () => number } {
  let puts = 0
  const put: StreamStore['put'] = (...args) => {
    puts++
    return store.put(...args)
  }
  return { store: Object.assign(Object.create(store) as StreamStore, { put }), puts: () => puts }
}

describe('end by silence', () => {
  it('a live session with no hook for endAfterSilence ends, saying so and when it was last heard from', async () => {
    const { t, record, ended, clock } = setup()
    await t.feed('started', 'f1')
    await t.advance(30_000)
    await t.thumbnail(pictures.black[0]!)
    await t.advance(30_000)
    await t.thumbnail(pictures.black[1]!)
    const lastHeard = clock.now
    await t.advance(9 * MINUTE)
    expect(ended()).toEqual([])
    await t.advance(2 * MINUTE)
    expect(t.stream()).toEqual(['live', 'black', 'quiet', 'ended'])
    expect(ended()[0]!.data).toMatchObject({
      endedBy: 'silence',
      lastHeardAt: lastHeard,
      endedAt: lastHeard,
      health: { open: ['black', 'quiet'] },
    })
    expect(await record()).toMatchObject({ status: 'ended', endedBy: 'silence', lastHeardAt: lastHeard })
    expect(Object.keys((await record()).feeds)).toEqual([])
    await t.close()
  })

  it("other hooks of the stream keep it live, and those within the lag cost no write; ViewerAttempt doesn't", async () => {
    const counting = countingPuts(memoryStreamStore())
    const { t, ended } = setup(counting.store)
    await t.feed('started', 'f1', T0, { priority: 1 })
    const before = counting.puts()
    for (let i = 0; i < 10; i++) {
      await t.advance(1_000)
      await t.other('viewerConnection', 'FirstViewerConnection')
    }
    expect(counting.puts() - before).toBeLessThanOrEqual(1) // at most one lazy write of lastHeardAt (a minute's lag)
    for (let i = 0; i < 6; i++) {
      await t.advance(5 * MINUTE)
      await t.other('media', 'completed')
    }
    for (let i = 0; i < 4; i++) {
      await t.advance(2 * MINUTE)
      await t.other('viewerConnection', 'ViewerAttempt') // a viewer found the stream offline
    }
    expect(ended()).toEqual([])
    for (let i = 0; i < 4; i++) {
      await t.advance(2 * MINUTE)
      await t.other('viewerConnection', 'ViewerAttempt')
    }
    expect(ended()).toHaveLength(1)
    expect(ended()[0]!.data?.endedBy).toBe('silence')
    await t.close()
  })

  it('a session from 2021 restored at start a day after it was last written (no lastHeardAt) ends at once', async () => {
    const store = memoryStreamStore()
    const liveSince = Date.UTC(2021, 11, 2, 16, 44, 46)
    const old: StreamRecord = {
      streamId: STREAM,
      status: 'live',
      session: `${STREAM}@${liveSince}`,
      liveSince,
      feeds: { f1: { started: liveSince } },
      alerts: {},
      emitted: { live: `${STREAM}@${liveSince}` },
      updatedAt: liveSince + 5_000,
    }
    await store.put(STREAM, old, null)
    const stored = (await store.get(STREAM))!.record.updatedAt // the store stamps its own clock: now
    const { t, ended, record, clock } = setup(store)
    clock.now = stored + 24 * 60 * MINUTE // started again a day later
    await t.tracker.start()
    await t.advance(0)
    expect(t.stream()).toEqual(['ended'])
    expect(ended()[0]!.data).toMatchObject({ endedBy: 'silence', endedAt: stored })
    expect(ended()[0]!.data?.lastHeardAt).toBeUndefined()
    expect((await record()).status).toBe('ended')
    await t.close()
  })

  it("the README's example (a 2021 `started` sent now) is live until it has been silent for endAfterSilence", async () => {
    const { t, ended } = setup()
    await t.feed('started', 'f1', Date.UTC(2021, 11, 2))
    await t.advance(45_000)
    expect(t.stream()).toEqual(['live'])
    await t.advance(11 * MINUTE)
    expect(t.stream()).toEqual(['live', 'ended'])
    expect(ended()[0]!.data).toMatchObject({ endedBy: 'silence', lastHeardAt: T0 })
    await t.close()
  })

  it('a later started, or a thumbnail captured after the silence, starts a new session', async () => {
    const { t, record } = setup()
    await t.feed('started', 'f1')
    await t.advance(45_000)
    await t.advance(11 * MINUTE)
    const first = (await record()).session
    await t.advance(MINUTE)
    await t.thumbnail(pictures.varied[0]!, { feedId: 'f1' }) // its `started` was lost
    expect((await record()).status).toBe('live')
    expect((await record()).session).not.toBe(first)
    expect(t.stream()).toEqual(['live', 'ended', 'live'])
    await t.advance(11 * MINUTE)
    await t.feed('started', 'f2')
    await t.advance(45_000)
    expect(t.stream()).toEqual(['live', 'ended', 'live', 'quiet', 'ended', 'live'])
    await t.close()
  })

  it('a late `ended` of a session silence ended is no second ended; a thumbnail taken before the silence revives nothing', async () => {
    const { t, record, clock } = setup()
    await t.feed('started', 'f1')
    await t.advance(2 * MINUTE)
    await t.other('viewerConnection', 'FirstViewerConnection')
    const heard = clock.now
    await t.advance(12 * MINUTE)
    expect(t.stream()).toEqual(['live', 'ended'])
    await t.feed('ended', 'f1', heard + 1_000)
    await t.thumbnail(pictures.varied[0]!, { at: heard - 1_000 })
    await t.advance(2 * MINUTE)
    expect(t.stream()).toEqual(['live', 'ended'])
    expect((await record()).status).toBe('ended')
    expect((await record()).endedAt).toBe(heard)
    await t.close()
  })
})

describe('order and redundancy', () => {
  it('an ended before its started: the short publish is live then ended, once each', async () => {
    const { t, record } = setup()
    await t.feed('ended', 'f1', T0 + 20_000)
    expect(t.stream()).toEqual([])
    await t.advance(1_000)
    await t.feed('started', 'f1', T0)
    expect(t.stream()).toEqual(['live'])
    await t.advance(MINUTE)
    expect(t.stream()).toEqual(['live', 'ended'])
    expect((await record()).status).toBe('ended')
    expect(t.emitted.find((e) => e.event === 'ended')!.data).toMatchObject({ endedBy: 'hook', endedAt: T0 + 20_000 })
    await t.close()
  })

  it('thumbnails after the platform ended the session revive nothing and are not judged', async () => {
    const { t, record } = setup()
    await t.feed('started', 'f1')
    await t.advance(30_000)
    await t.thumbnail(pictures.varied[0]!)
    await t.feed('ended', 'f1')
    await t.advance(2 * MINUTE)
    expect(t.stream()).toEqual(['live', 'ended'])
    for (const frame of pictures.black) {
      await t.advance(1_000)
      await t.thumbnail(frame, { at: T0 + 29_000 })
    }
    await t.advance(30 * MINUTE)
    expect(t.stream()).toEqual(['live', 'ended'])
    expect((await record()).status).toBe('ended')
    expect(t.counts.get('analysis:analysed')).toBe(1)
    await t.close()
  })

  for (const [what, extra] of [
    ['redundant ingest (priority)', (i: number) => ({ priority: i })],
    ['several sources (sourceId)', (i: number) => ({ sourceId: `camera-${i}` })],
  ] as const) {
    it(`two feeds of one stream, ${what}: live while either is active, one live and one ended`, async () => {
      const { t, record } = setup()
      await t.feed('started', 'f1', T0, extra(1))
      await t.advance(2_000)
      await t.feed('started', 'f2', T0 + 2_000, extra(2))
      await t.advance(30_000)
      await t.thumbnail(pictures.varied[0]!, { feedId: 'f1' })
      await t.thumbnail(pictures.varied[1]!, { feedId: 'f2' })
      await t.feed('ended', 'f1')
      for (let i = 0; i < 10; i++) {
        await t.advance(30_000)
        await t.thumbnail(pictures.varied[i % 4]!, { feedId: 'f2' })
      }
      expect((await record()).status).toBe('live')
      expect(t.stream()).toEqual(['live'])
      await t.feed('ended', 'f2')
      await t.advance(MINUTE)
      expect(t.stream()).toEqual(['live', 'ended'])
      await t.close()
    })
  }

  it('two feeds that both go silent end together, at the time the stream was last heard from', async () => {
    const { t, record, clock } = setup()
    await t.feed('started', 'f1', T0, { sourceId: 'a' })
    await t.feed('started', 'f2', T0, { sourceId: 'b' })
    await t.advance(2 * MINUTE)
    await t.other('viewerConnection', 'FirstViewerConnection')
    const heard = clock.now
    await t.advance(12 * MINUTE)
    expect(t.stream()).toEqual(['live', 'ended'])
    expect(t.emitted.find((e) => e.event === 'ended')!.data).toMatchObject({ endedBy: 'silence', endedAt: heard })
    expect(Object.keys((await record()).feeds)).toEqual([])
    await t.close()
  })
})
