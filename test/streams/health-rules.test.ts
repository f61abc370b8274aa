/**
 * Picture health as pure functions over a record: runs of black and unchanged pictures, the hysteresis that raises a
 * problem once and clears it once, quiet thumbnails, and what the events say. Pictures are made-up grids (the
 * measure itself is tested in test/health/picture.test.ts); the clock is the `now` given.
 */
import { describe, expect, it } from 'vitest'
import type { PictureSample } from '../../src/health/picture.ts'
import { applyFeed, finishIfDue } from '../../src/streams/lifecycle-rules.ts'
import {
  HEALTH_DEFAULTS,
  quietDueAt,
  raiseQuietIfDue,
  takePicture,
  thumbnailCame,
} from '../../src/streams/health-rules.ts'
import { healthEvent, transitionEvent } from '../../src/streams/transition-event.ts'
import type { StreamRecord, ThumbnailRef } from '../../src/streams/stream-types.ts'
import { takeThumbnail } from '../../src/streams/lifecycle-rules.ts'

const STREAM = 'ZG6NWV/show'
const T0 = 1_700_000_000_000
const CELLS = 64 * 36
const S = HEALTH_DEFAULTS

const live = (): StreamRecord => {
  const r: StreamRecord = { streamId: STREAM, status: 'ended', feeds: {}, alerts: {}, emitted: {}, updatedAt: 0 }
  applyFeed(r, 'f1', 'started', T0, T0)
  return r
}
const ref = (i: number): ThumbnailRef => {
  const timestamp = T0 + i * 30_000
  return {
    eventId: `t${i}`,
    timestamp,
    feedId: 'f1',
    event: {
      id: `t${i}`,
      source: 'millicast',
      type: 'thumbnail',
      event: 'thumbnail',
      timestamp,
      receivedAt: timestamp + 100,
      streamId: STREAM,
      contentType: 'image/jpeg',
      bodySha256: '0'.repeat(64),
    },
  }
}
/** A scene: cells of every luma, another arrangement per seed. */
const scene = (seed: number): PictureSample => {
  const grid = new Uint8Array(CELLS)
  for (let i = 0; i < CELLS; i++) grid[i] = ((i * 37 + seed * 101) % 200) + 40
  return { meanLuma: 140, darkFraction: 0, grid }
}
/** The same scene with a little noise: no cell moves more than `by` from it. */
const noisy = (base: PictureSample, by: number): PictureSample => ({
  ...base,
  grid: base.grid.map((v, i) => v + (i % 2 === 0 ? by : -by)),
})
const black = (seed: number): PictureSample => ({
  meanLuma: 16.4,
  darkFraction: 0.99,
  grid: new Uint8Array(CELLS).map((_, i) => 16 + ((i + seed) % 3)),
})
const events = (r: StreamRecord) => r.health?.outbox.map((n) => [n.event, n.data.problem]) ?? []

/** Feeds pictures 1.. to the record, each from its own thumbnail. */
function show(r: StreamRecord, pictures: PictureSample[], from = 1): void {
  pictures.forEach((picture, i) => {
    takeThumbnail(r, ref(from + i), {})
    takePicture(r, picture, ref(from + i), S)
  })
}

describe('black', () => {
  it('is raised after two black pictures in a row, once, with what was measured and the thumbnail', () => {
    const r = live()
    show(r, [scene(1), black(1)])
    expect(events(r)).toEqual([])
    expect(r.health?.state).toBe('ok')
    show(r, [black(2), black(3), black(4)], 3)
    expect(events(r)).toEqual([['black', 'black']])
    expect(r.health?.state).toBe('black')
    expect(r.health?.outbox[0]).toMatchObject({
      seq: 0,
      event: 'black',
      at: ref(3).timestamp,
      data: {
        problem: 'black',
        since: ref(2).timestamp,
        measurements: { meanLuma: 16.4, darkFraction: 0.99 },
        thumbnail: { eventId: 't3', timestamp: ref(3).timestamp },
      },
    })
    expect(r.health?.open.black).toMatchObject({ since: ref(2).timestamp, thumbnail: { eventId: 't3' } })
  })

  it('recovers after two good pictures in a row; a picture flickering back to black clears nothing', () => {
    const r = live()
    show(r, [black(1), black(2), scene(1), black(3), scene(2), black(4), scene(3)])
    expect(events(r)).toEqual([['black', 'black']])
    show(r, [scene(4)], 8)
    expect(events(r)).toEqual([
      ['black', 'black'],
      ['recovered', 'black'],
    ])
    expect(r.health?.state).toBe('ok')
    expect(r.health?.outbox[1]).toMatchObject({
      seq: 1,
      event: 'recovered',
      data: {
        problem: 'black',
        since: ref(1).timestamp,
        recoveredAt: ref(8).timestamp,
        durationMs: ref(8).timestamp - ref(1).timestamp,
        thumbnail: { eventId: 't8' },
      },
    })
  })

  it('a black picture that stays black is black, not also frozen', () => {
    const r = live()
    show(r, [black(1), black(1), black(1), black(1), black(1)])
    expect(events(r)).toEqual([['black', 'black']])
  })

  it('a picture older than the last one looked at changes nothing', () => {
    const r = live()
    show(r, [black(1)], 5)
    expect(takePicture(r, black(2), ref(4), S)).toBe(false)
    expect(events(r)).toEqual([])
  })
})

describe('frozen', () => {
  it('is raised after three unchanged pictures (re-encoding noise within the tolerance), and recovers after two changes', () => {
    const r = live()
    const still = scene(7)
    show(r, [scene(1), still, noisy(still, 4)])
    expect(events(r)).toEqual([])
    show(r, [noisy(still, 5)], 4)
    expect(events(r)).toEqual([['frozen', 'frozen']])
    expect(r.health!.outbox[0]!.data).toMatchObject({
      since: ref(2).timestamp,
      measurements: { change: 4, thumbnails: 3 },
      thumbnail: { eventId: 't4' },
    })
    show(r, [still, scene(8)], 5)
    expect(events(r)).toHaveLength(1) // one changed picture clears nothing
    show(r, [scene(9)], 7)
    expect(events(r)).toEqual([
      ['frozen', 'frozen'],
      ['recovered', 'frozen'],
    ])
  })

  it('a change past the tolerance (a clock, a ticker) breaks the run', () => {
    const r = live()
    const still = scene(7)
    const clock = (value: number) => ({ ...still, grid: still.grid.map((v, i) => (i < 90 ? value : v)) })
    show(r, [clock(60), clock(120), clock(71), clock(60), clock(120)])
    expect(events(r)).toEqual([]) // 4% of the cells move by 11 or more every time
    expect(r.health?.state).toBe('ok')
  })
})

describe('quiet', () => {
  it('is never due for a session that sent no thumbnail', () => {
    const r = live()
    expect(quietDueAt(r, S)).toBeUndefined()
    expect(raiseQuietIfDue(r, T0 + 3_600_000, S)).toBe(false)
  })

  it('is raised once after quiet.after without a thumbnail, and the next thumbnail recovers it', () => {
    const r = live()
    show(r, [scene(1)])
    const last = ref(1).event.receivedAt
    expect(quietDueAt(r, S)).toBe(last + 90_000)
    expect(raiseQuietIfDue(r, last + 89_999, S)).toBe(false)
    expect(raiseQuietIfDue(r, last + 95_000, S)).toBe(true)
    expect(raiseQuietIfDue(r, last + 200_000, S)).toBe(false)
    expect(quietDueAt(r, S)).toBeUndefined()
    expect(r.health?.state).toBe('quiet')
    expect(r.health?.outbox[0]).toMatchObject({
      event: 'quiet',
      at: last + 95_000,
      data: { problem: 'quiet', since: last, measurements: { silentMs: 95_000 }, thumbnail: { eventId: 't1' } },
    })
    const back = ref(9)
    takeThumbnail(r, back, {})
    expect(thumbnailCame(r, back)).toBe(true)
    expect(r.health?.outbox[1]).toMatchObject({
      event: 'recovered',
      data: { problem: 'quiet', since: last, recoveredAt: back.event.receivedAt, thumbnail: { eventId: 't9' } },
    })
    expect(r.health?.state).toBe('ok')
  })

  it('is off with picture health off', () => {
    const r = live()
    takeThumbnail(r, ref(1), {})
    expect(quietDueAt(r, undefined)).toBeUndefined()
  })
})

describe('events', () => {
  it('problems still open when the session ends close with it: ended names them, no recovered follows', async () => {
    const r = live()
    show(r, [black(1), black(2)])
    applyFeed(r, 'f1', 'ended', ref(3).timestamp, ref(3).timestamp)
    expect(finishIfDue(r, ref(3).timestamp + 60_000, 60_000)).toBe(true)
    expect(r.health?.open).toEqual({})
    show(r, [scene(1), scene(2), scene(3)], 4)
    expect(events(r)).toEqual([['black', 'black']])
    const ended = await transitionEvent(r, 'ended', ref(4).timestamp)
    expect(ended.data).toMatchObject({ endedBy: 'hook', health: { open: ['black'] } })
  })

  it('a health event id is made of its session, kind and seq: the same notice is the same event', async () => {
    const r = live()
    show(r, [black(1), black(2)])
    const notice = r.health!.outbox[0]!
    const a = await healthEvent(r, notice, 1)
    const b = await healthEvent(r, notice, 2)
    expect(a.id).toBe(b.id)
    expect(a).toMatchObject({ source: 'hookcast', type: 'stream', event: 'black', streamId: STREAM })
    expect(a.data).toMatchObject({ streamId: STREAM, accountId: undefined, session: r.session, problem: 'black' })
    expect((await healthEvent(r, { ...notice, seq: 1 }, 1)).id).not.toBe(a.id)
  })
})
