/**
 * The S3 stream store's bounds, on s3rver behind the conditional proxy, with an injected clock: maxStreams (ended
 * streams evicted, those that never went live first; live ones never; a new stream refused when all are live, on
 * another invocation too), the sweep (ended streams past keepEnded with their thumbnails, the count brought back to
 * maxStreams, thumbnails of no record after a minute and not before, nothing started past its deadline), and what
 * the scans cost: records known at their ETag are not read again, and a sweep reads only records S3 has seen
 * unchanged for keepEnded.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openS3StreamStore, type S3StreamStoreOptions } from '../../../src/backends/s3/stream-store.ts'
import { SLICES } from '../../../src/backends/s3/thumbnails.ts'
import { updateWithRetry, type StreamStore } from '../../../src/streams/stream-store.ts'
import { StreamLimitError, type StreamRecord, type ThumbnailRef } from '../../../src/streams/stream-types.ts'
import { conditionalBucket } from './conditional-proxy.ts'
import { jpeg } from '../../support/hooks.ts'
import { startRequestLog } from './request-log.ts'

const BUCKET = 'bounds'
const DAY = 86_400_000
const s3 = conditionalBucket(BUCKET)

let count = 0
let clock: number
let stores: StreamStore[] = []
const open = (prefix: string, extra: Partial<S3StreamStoreOptions> = {}) => {
  const store = openS3StreamStore({ ...s3.connection(), prefix, now: () => clock, ...extra })
  stores.push(store)
  return store
}
beforeEach(() => {
  clock = Date.now()
})
afterEach(async () => {
  await Promise.all(stores.map((store) => store.close()))
  stores = []
})

const hex24 = (n: number) => n.toString(16).padStart(24, '0')
const ref = (streamId: string, eventId: string, timestamp = clock): ThumbnailRef => ({
  eventId,
  timestamp,
  event: {
    id: eventId,
    source: 'millicast',
    type: 'thumbnail',
    event: 'thumbnail',
    timestamp,
    receivedAt: timestamp,
    streamId,
    contentType: 'image/jpeg',
    bodySha256: '0'.repeat(64),
  },
})
const update = (store: StreamStore, streamId: string, change: (r: StreamRecord) => void) =>
  updateWithRetry(store, streamId, change, { now: () => clock })
const goLive = (r: StreamRecord) => {
  r.status = 'live'
  r.liveSince = clock
  r.session = `${r.streamId}@${clock}`
  r.feeds.a = { started: clock }
}
const ids = async (store: StreamStore) => (await store.list()).map((r) => r.streamId).sort()
const objectsUnder = (prefix: string) => s3.server().list(BUCKET, prefix)

describe('S3 stream store: maxStreams', () => {
  it('a new stream evicts an ended one (with its thumbnails), never a live one; refused when all are live, on another invocation too', async () => {
    const limits: string[] = []
    const onLimit = (what: string) => limits.push(what)
    const prefix = `max${count++}`
    const store = open(prefix, { maxStreams: 3, onLimit })
    await update(store, 'ZG6NWV/live-1', goLive)
    const thumb = ref('ZG6NWV/ended', hex24(1))
    await store.putThumbnail(thumb, jpeg('ended', 1_000))
    await update(store, 'ZG6NWV/ended', (r) => {
      r.session = 'ZG6NWV/ended@1'
      r.latestThumbnail = thumb
    })
    await update(store, 'ZG6NWV/live-2', goLive)
    await update(store, 'ZG6NWV/live-1', (r) => {
      r.streamName = 'still changes'
    }) // a known stream at the bound
    expect(limits).toEqual([])

    await update(store, 'ZG6NWV/new', goLive)
    expect(limits).toEqual(['stream_evicted'])
    expect(await ids(store)).toEqual(['ZG6NWV/live-1', 'ZG6NWV/live-2', 'ZG6NWV/new'])
    expect((await store.get('ZG6NWV/live-1'))!.record.streamName).toBe('still changes')
    expect(await store.thumbnail('ZG6NWV/ended', hex24(1))).toBeUndefined()

    // Another invocation at the same bound, every record live: the new stream is refused, and its thumbnail goes.
    const other = open(prefix, { maxStreams: 3, onLimit })
    await other.putThumbnail(ref('ZG6NWV/refused', hex24(2)), jpeg('refused', 1_000))
    await expect(update(other, 'ZG6NWV/refused', goLive)).rejects.toMatchObject({ limit: 'streams_full' })
    await expect(update(store, 'ZG6NWV/refused', goLive)).rejects.toBeInstanceOf(StreamLimitError)
    expect(limits).toEqual(['stream_evicted', 'streams_full', 'streams_full'])
    expect(await other.thumbnail('ZG6NWV/refused', hex24(2))).toBeUndefined()
    expect(await objectsUnder(`${prefix}/streams/`)).toHaveLength(3)
    expect(await objectsUnder(`${prefix}/thumbnails/`)).toEqual([])
  })

  it('evicts the streams that never went live first, then the oldest change', async () => {
    const store = open(`order${count++}`, { maxStreams: 3 })
    await update(store, 'ZG6NWV/session-over', (r) => {
      r.session = 'ZG6NWV/session-over@1'
      r.liveSince = 1
      r.endedAt = 2
    })
    clock += 1_000
    await update(store, 'ZG6NWV/thumbs-only', (r) => {
      r.streamName = 'thumbs-only'
    })
    clock += 1_000
    await update(store, 'ZG6NWV/live', goLive)
    await update(store, 'ZG6NWV/new-1', goLive)
    expect(await ids(store)).toEqual(['ZG6NWV/live', 'ZG6NWV/new-1', 'ZG6NWV/session-over'])
    await update(store, 'ZG6NWV/new-2', goLive)
    expect(await ids(store)).toEqual(['ZG6NWV/live', 'ZG6NWV/new-1', 'ZG6NWV/new-2'])
  })
})

describe('S3 stream store: the sweep', () => {
  it('forgets ended streams past keepEnded, with their thumbnails; live and recent ones stay', async () => {
    const limits: string[] = []
    const prefix = `keep${count++}`
    const store = open(prefix, { keepEndedMs: 7 * DAY, onLimit: (what) => limits.push(what) })
    const thumb = ref('ZG6NWV/old', hex24(1))
    await store.putThumbnail(thumb, jpeg('old', 1_000))
    await update(store, 'ZG6NWV/old', (r) => {
      r.session = 'ZG6NWV/old@1'
      r.latestThumbnail = thumb
    })
    await update(store, 'ZG6NWV/live', goLive)
    clock += 6 * DAY
    await update(store, 'ZG6NWV/recent', (r) => {
      r.streamName = 'recent'
    })
    clock += 2 * DAY
    expect(await store.sweep()).toBe(1)
    expect(await ids(store)).toEqual(['ZG6NWV/live', 'ZG6NWV/recent'])
    expect(await store.thumbnail('ZG6NWV/old', hex24(1))).toBeUndefined()
    expect(await objectsUnder(`${prefix}/thumbnails/`)).toEqual([])
    expect(limits).toEqual(['stream_expired'])
    // Another invocation, which knows nothing in memory, finds nothing more to forget.
    expect(await open(prefix, { keepEndedMs: 7 * DAY }).sweep()).toBe(0)
    expect(await ids(store)).toEqual(['ZG6NWV/live', 'ZG6NWV/recent'])
  })

  it('brings the records back to maxStreams (a lowered bound, or invocations that created at once)', async () => {
    const limits: string[] = []
    const prefix = `excess${count++}`
    const wide = open(prefix, { maxStreams: 5 })
    for (let n = 0; n < 4; n++) {
      await update(wide, `ZG6NWV/ended-${n}`, (r) => {
        r.session = `ZG6NWV/ended-${n}@1`
      })
      clock += 1_000
    }
    await update(wide, 'ZG6NWV/live', goLive)
    const narrow = open(prefix, { maxStreams: 2, onLimit: (what) => limits.push(what) })
    expect(await narrow.sweep()).toBe(0) // none expired: evicted
    expect(await ids(narrow)).toEqual(['ZG6NWV/ended-3', 'ZG6NWV/live'])
    expect(limits).toEqual(['stream_evicted', 'stream_evicted', 'stream_evicted'])
  })

  it("removes thumbnails of streams with no record once past a minute, not before; a stream's own stay", async () => {
    const prefix = `loose${count++}`
    const store = open(prefix)
    await store.putThumbnail(ref('ZG6NWV/none', hex24(1)), jpeg('no record ever refers to it', 1_000))
    const kept = ref('ZG6NWV/kept', hex24(2))
    await store.putThumbnail(kept, jpeg('referred to', 1_000))
    await update(store, 'ZG6NWV/kept', (r) => {
      r.latestThumbnail = kept
    })
    await store.putThumbnail(ref('ZG6NWV/kept', hex24(3)), jpeg('a spare one', 1_000))
    // One slice of stream keys per sweep: as many sweeps as slices go over them all.
    const sweepAll = async () => {
      for (let i = 0; i < SLICES.length; i++) await store.sweep()
    }
    await sweepAll()
    expect(await store.thumbnail('ZG6NWV/none', hex24(1))).toBeDefined() // its record may be on its way
    clock += 2 * 60_000
    await sweepAll()
    expect(await store.thumbnail('ZG6NWV/none', hex24(1))).toBeUndefined()
    expect(await store.thumbnail('ZG6NWV/kept', hex24(2))).toBeDefined()
    expect(await store.thumbnail('ZG6NWV/kept', hex24(3))).toBeDefined()
    expect(await objectsUnder(`${prefix}/thumbnails/`)).toHaveLength(2)
  })

  it('starts nothing once its deadline passed', async () => {
    const store = open(`deadline${count++}`, { keepEndedMs: DAY })
    await update(store, 'ZG6NWV/old', (r) => {
      r.streamName = 'old'
    })
    clock += 2 * DAY
    expect(await store.sweep({ deadline: Date.now() - 1 })).toBe(0)
    expect(await ids(store)).toEqual(['ZG6NWV/old'])
    expect(await store.sweep({ deadline: Date.now() + 60_000 })).toBe(1)
    expect(await ids(store)).toEqual([])
  })
})

describe('S3 stream store: what scans cost', () => {
  it('records known at their ETag are not read again; a sweep reads only records S3 has seen unchanged for keepEnded', async () => {
    const log = await startRequestLog(s3.proxy().endpoint)
    try {
      const prefix = `cost${count++}`
      const store = open(prefix, { ...s3.connection(log.endpoint), keepEndedMs: DAY })
      for (let n = 0; n < 5; n++)
        await update(store, `ZG6NWV/s${n}`, (r) => {
          r.streamName = `s${n}`
        })
      const reads = () => log.gets(BUCKET, `${prefix}/streams/`).length
      log.clear()
      expect(await store.list()).toHaveLength(5)
      expect(reads()).toBe(5)
      log.clear()
      expect(await store.list()).toHaveLength(5)
      expect(reads()).toBe(0)
      expect(log.lists(BUCKET, `${prefix}/streams/`)).toHaveLength(1)
      await update(store, 'ZG6NWV/s0', (r) => {
        r.streamName = 'changed'
      })
      log.clear()
      expect((await store.list()).find((r) => r.streamId === 'ZG6NWV/s0')?.streamName).toBe('changed')
      expect(reads()).toBe(1)

      // A new invocation's sweep: every record changed within keepEnded by S3's clock, so none is read.
      const fresh = open(prefix, { ...s3.connection(log.endpoint), keepEndedMs: DAY })
      log.clear()
      expect(await fresh.sweep()).toBe(0)
      expect(reads()).toBe(0)
      clock += 2 * DAY
      expect(await fresh.sweep()).toBe(5)
      expect(reads()).toBe(5)
    } finally {
      await log.stop()
    }
  })

  it('well under maxStreams, new streams share a recent count of the records; near it, each one counts again', async () => {
    const log = await startRequestLog(s3.proxy().endpoint)
    try {
      const prefix = `count${count++}`
      const store = open(prefix, { ...s3.connection(log.endpoint), maxStreams: 10 })
      const lists = () => log.lists(BUCKET, `${prefix}/streams/`).length
      const make = (n: number) => update(store, `ZG6NWV/s${n}`, goLive)
      // 9 is 90% of 10: the first stream counts, the next 8 trust that count plus the streams made here since.
      for (let n = 0; n < 9; n++) await make(n)
      expect(lists()).toBe(1)
      log.clear()
      await make(9) // the 10th: counted again, and it fits
      expect(lists()).toBe(1)
      await expect(make(10)).rejects.toMatchObject({ limit: 'streams_full' }) // every one live: the count is exact
      expect(lists()).toBe(2)

      // A count is trusted for a few seconds only; after that, what other instances made meanwhile is counted.
      const other = open(`${prefix}-b`, { ...s3.connection(log.endpoint), maxStreams: 10 })
      const otherLists = () => log.lists(BUCKET, `${prefix}-b/streams/`).length
      log.clear()
      await update(other, 'ZG6NWV/b0', goLive)
      await update(other, 'ZG6NWV/b1', goLive)
      expect(otherLists()).toBe(1)
      clock += 60_000
      await update(other, 'ZG6NWV/b2', goLive)
      expect(otherLists()).toBe(2)
    } finally {
      await log.stop()
    }
  })
})
