/**
 * Picture health through the tracker, on an injected clock: real JPEG sequences (test/support/pictures.ts) looked at
 * by sharp, each stream raising exactly its own problem and its recovery; quiet thumbnails; the `live` event's wait
 * for the first thumbnail; a restart in the middle of a problem; two trackers sharing one store; and what cannot be
 * looked at (undecodable, busy, sharp missing).
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { memoryStreamStore } from '../../src/streams/memory-stream-store.ts'
import { openLocalStreamStore } from '../../src/backends/local/stream-store.ts'
import type { PictureAnalysis } from '../../src/health/picture.ts'
import { createLogger } from '../../src/log.ts'
import { pictureFixtures, type PictureFixtures } from '../support/pictures.ts'
import { tempDir } from '../support/files.ts'
import { clockedTracker, T0, type ClockedTracker } from './clocked-tracker.ts'

const STREAM = 'ZG6NWV/show'
let pictures: PictureFixtures

beforeAll(async () => {
  pictures = await pictureFixtures()
}, 120_000)

/** A session that goes live, then sends `frames` 30 s apart. */
async function publish(t: ClockedTracker, frames: Uint8Array[]): Promise<void> {
  await t.feed('started', 'f1')
  for (const frame of frames) {
    await t.advance(30_000)
    await t.thumbnail(frame)
  }
}

const fresh = () => clockedTracker({ store: memoryStreamStore(), clock: { now: T0 }, streamId: STREAM })

describe('picture health through the tracker', () => {
  const cases: Array<[string, () => Uint8Array[], string[]]> = [
    ['black with noise', () => [...pictures.black, ...pictures.varied.slice(0, 2)], ['black', 'recovered:black']],
    ['a still scene', () => [...pictures.still, ...pictures.varied.slice(0, 2)], ['frozen', 'recovered:frozen']],
    ['one scene re-encoded', () => [...pictures.reencoded, ...pictures.varied], ['frozen', 'recovered:frozen']],
    ['new scenes', () => pictures.varied, []],
    ['a studio clock', () => pictures.clock, []],
    ['a ticker', () => pictures.ticker, []],
    ['a presenter beside a slide', () => pictures.presenter, []],
    // Dark is not black; a camera on a still night scene is as frozen as any really still scene.
    ['a night shot', () => [...pictures.dim, ...pictures.varied.slice(0, 2)], ['frozen', 'recovered:frozen']],
  ]
  for (const [what, frames, expected] of cases) {
    it(`${what}: ${expected.length > 0 ? expected.join(', ') : 'no problem'}`, async () => {
      const t = fresh()
      await publish(t, frames())
      expect(t.stream()).toEqual(['live', ...expected])
      expect(t.counts.get('analysis:analysed')).toBe(frames().length)
      await t.close()
    }, 60_000)
  }

  it('events carry the stream, the session, since when, the measurements and the thumbnail that shows it', async () => {
    const t = fresh()
    await publish(t, pictures.black.slice(0, 2))
    const thumbnails = t.emitted.filter((e) => e.event === 'black')
    expect(thumbnails).toHaveLength(1)
    const black = thumbnails[0]!
    expect(black).toMatchObject({ source: 'hookcast', type: 'stream', event: 'black', streamId: STREAM })
    expect(black.data).toMatchObject({
      streamId: STREAM,
      accountId: 'ZG6NWV',
      streamName: 'show',
      session: `${STREAM}@${T0}`,
      problem: 'black',
      since: T0 + 30_000 - 500,
      thumbnail: { timestamp: T0 + 60_000 - 500 },
    })
    const measurements = black.data!.measurements as { meanLuma: number; darkFraction: number }
    expect(measurements.darkFraction).toBeGreaterThanOrEqual(0.95)
    expect(measurements.meanLuma).toBeLessThan(32)
    expect(t.counts.get('health:black')).toBe(1)
    await t.close()
  })
})

describe('live waits for the first thumbnail', () => {
  it('is handed on with the first thumbnail when it comes within thumbnailWait', async () => {
    const t = fresh()
    await t.feed('started', 'f1')
    await t.advance(20_000)
    expect(t.stream()).toEqual([])
    const first = await t.thumbnail(pictures.varied[0]!)
    expect(t.stream()).toEqual(['live'])
    const live = t.emitted[0]!
    expect(live.data).toMatchObject({ thumbnail: { eventId: first.id }, firstThumbnail: { eventId: first.id } })
    await t.close()
  })

  it('is handed on without one after thumbnailWait; a thumbnail later is not a second live', async () => {
    const t = fresh()
    await t.feed('started', 'f1')
    await t.advance(44_000)
    expect(t.stream()).toEqual([])
    await t.advance(1_000)
    expect(t.stream()).toEqual(['live'])
    expect(t.emitted[0]!.data?.thumbnail).toBeUndefined()
    await t.advance(10_000)
    await t.thumbnail(pictures.varied[0]!)
    expect(t.stream()).toEqual(['live'])
    await t.close()
  })
})

describe('quiet', () => {
  it('a session that stops sending thumbnails is quiet after 90 s, once; the next thumbnail recovers it', async () => {
    const t = fresh()
    await publish(t, pictures.varied.slice(0, 2))
    await t.other('viewerConnection', 'FirstViewerConnection') // heard from, still no thumbnail
    await t.advance(89_000)
    expect(t.stream()).toEqual(['live'])
    await t.advance(1_000)
    expect(t.stream()).toEqual(['live', 'quiet'])
    const quiet = t.emitted.find((e) => e.event === 'quiet')!
    expect(quiet.data).toMatchObject({ problem: 'quiet', measurements: { silentMs: 90_000 } })
    await t.advance(120_000)
    expect(t.stream()).toEqual(['live', 'quiet'])
    await t.thumbnail(pictures.varied[2]!)
    expect(t.stream()).toEqual(['live', 'quiet', 'recovered:quiet'])
    await t.close()
  })

  it('never for a session that sent no thumbnail (H.265, AV1)', async () => {
    const t = fresh()
    await t.feed('started', 'f1')
    for (let i = 0; i < 8; i++) {
      await t.advance(60_000)
      await t.other('viewerConnection', 'FirstViewerConnection')
    }
    expect(t.stream()).toEqual(['live'])
    await t.close()
  })

  it('is not raised with picture health off, and nothing is looked at', async () => {
    const t = clockedTracker({ store: memoryStreamStore(), clock: { now: T0 }, streamId: STREAM, health: false })
    await publish(t, pictures.black)
    await t.advance(200_000)
    expect(t.stream()).toEqual(['live'])
    expect(t.counts.size).toBe(0)
    await t.close()
  })
})

describe('restarts and instances', () => {
  it('a restart in the middle of a problem raises no second alert; the recovery comes once', async () => {
    const dir = tempDir('hookcast-health-restart-')
    const clock = { now: T0 }
    const emitted: ClockedTracker['emitted'] = []
    const checks: Array<{ check: ClockedTracker['emitted'][number]; at: number }> = []
    const open = async () => {
      const store = await openLocalStreamStore({ dir: dir.path, log: createLogger('error') })
      return { store, t: clockedTracker({ store, clock, streamId: STREAM, emitted, checks }) }
    }
    let { store, t } = await open()
    await publish(t, pictures.black.slice(0, 3))
    expect(t.stream()).toEqual(['live', 'black'])
    await t.close()
    await store.close()
    ;({ store, t } = await open())
    await t.tracker.start()
    for (const frame of [pictures.black[3]!, pictures.black[0]!, ...pictures.varied.slice(0, 2)]) {
      await t.advance(30_000)
      await t.thumbnail(frame)
    }
    expect(t.stream()).toEqual(['live', 'black', 'recovered:black'])
    // Not raised again under the same id either: handed on once.
    expect(emitted.filter((event) => event.event === 'black')).toHaveLength(1)
    await t.close()
    await store.close()
    dir.remove()
  })

  it('two trackers sharing one store raise a problem once, whichever looks at each picture', async () => {
    const store = memoryStreamStore()
    const clock = { now: T0 }
    const emitted: ClockedTracker['emitted'] = []
    const checks: Array<{ check: ClockedTracker['emitted'][number]; at: number }> = []
    const a = clockedTracker({ store, clock, streamId: STREAM, emitted, checks })
    const b = clockedTracker({ store, clock, streamId: STREAM, emitted, checks })
    await a.feed('started', 'f1')
    const frames = [...pictures.still, ...pictures.varied.slice(0, 2)]
    for (const [i, frame] of frames.entries()) {
      await a.advance(30_000)
      await (i % 2 === 0 ? a : b).thumbnail(frame)
    }
    expect(a.stream()).toEqual(['live', 'frozen', 'recovered:frozen'])
    expect(emitted.filter((e) => e.event === 'frozen')).toHaveLength(1)
    await a.close()
    await b.close()
  })
})

describe('what cannot be looked at', () => {
  it('an undecodable thumbnail is counted and logged once per stream and session; the delivery succeeds', async () => {
    const lines: string[] = []
    const log = createLogger('warn', (line) => lines.push(line))
    const t = clockedTracker({ store: memoryStreamStore(), clock: { now: T0 }, streamId: STREAM, log })
    await publish(t, [pictures.broken.truncated, pictures.broken.headerOnly, pictures.broken.truncated])
    expect(t.counts.get('analysis:undecodable')).toBe(3)
    expect(lines.filter((line) => line.includes('cannot be decoded'))).toHaveLength(1)
    expect(t.stream()).toEqual(['live'])
    await t.close()
  })

  it('sharp missing: health stays unknown, counted; thumbnails are still kept', async () => {
    const store = memoryStreamStore()
    const t = clockedTracker({
      store,
      clock: { now: T0 },
      streamId: STREAM,
      analyse: async () => ({ unavailable: 'no sharp here' }),
    })
    await publish(t, pictures.black)
    expect(t.stream()).not.toContain('black')
    expect(t.counts.get('analysis:unavailable')).toBe(4)
    await t.close() // writes the latest thumbnail waiting in memory
    const record = (await store.get(STREAM))!.record
    expect(record.health?.state ?? 'unknown').toBe('unknown')
    expect(record.latestThumbnail?.timestamp).toBe(T0 + 4 * 30_000 - 500)
  })

  it('a thumbnail that comes while its stream is being looked at is skipped and counted, never queued', async () => {
    let release: () => void = () => {}
    let entered: () => void = () => {}
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const looking = new Promise<void>((resolve) => {
      entered = resolve
    })
    const analyse = async (): Promise<PictureAnalysis> => {
      entered()
      await gate
      return { meanLuma: 16, darkFraction: 1, grid: new Uint8Array(64 * 36).fill(16) }
    }
    const t = clockedTracker({ store: memoryStreamStore(), clock: { now: T0 }, streamId: STREAM, analyse })
    await t.feed('started', 'f1')
    await t.advance(30_000)
    const first = t.thumbnail(pictures.black[0]!)
    await looking
    await t.advance(30_000)
    await t.thumbnail(pictures.black[1]!)
    expect(t.counts.get('analysis:skipped_busy')).toBe(1)
    release()
    await first
    expect(t.counts.get('analysis:analysed')).toBe(1)
    expect(t.stream()).toEqual(['live']) // one black picture looked at: not yet black
    await t.close()
  })
})
