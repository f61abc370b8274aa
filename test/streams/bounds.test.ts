/**
 * What the stream state may hold is bounded (streams, age of ended ones, thumbnail bytes, id lengths, feeds per
 * stream), and a change costs one small file write whatever the number of streams.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createStreamTracker } from '../../src/streams/tracker.ts'
import { openLocalStreamStore } from '../../src/backends/local/stream-store.ts'
import { updateWithRetry, type StreamStore } from '../../src/streams/stream-store.ts'
import type { StreamRecord, ThumbnailRef } from '../../src/streams/stream-types.ts'
import type { HookEvent } from '../../src/events/types.ts'
import { parseJsonHook, parseThumbnail } from '../../src/events/parse.ts'
import { silentLogger } from '../../src/log.ts'
import { jpeg, signedThumbnail } from '../support/hooks.ts'
import { tempDir } from '../support/files.ts'
import { configSchema } from '../../src/config/config-schema.ts'
import { timedChecks, type TimedChecks } from './support.ts'

type Options = Parameters<typeof openLocalStreamStore>[0]
const DAY = 86_400_000

let dir: ReturnType<typeof tempDir>
let clock: number
const now = () => clock
const stores: StreamStore[] = []
const open = async (extra: Record<string, unknown> = {}) => {
  const store = await openLocalStreamStore({ dir: dir.path, log: silentLogger, now, ...extra } as Options)
  stores.push(store)
  return store
}
const ref = (streamId: string, eventId: string, timestamp = clock): ThumbnailRef => ({
  eventId,
  timestamp,
  feedId: 'f',
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
const hex24 = (n: number) => n.toString(16).padStart(24, '0')
const recordFiles = () => readdirSync(join(dir.path, 'records')).filter((name) => name.endsWith('.json'))
const update = (store: StreamStore, streamId: string, change: (r: StreamRecord) => void) =>
  updateWithRetry(store, streamId, change)
const goLive = (r: StreamRecord) => {
  r.status = 'live'
  r.liveSince = clock
  r.session = `${r.streamId}@${clock}`
  r.feeds.a = { started: clock }
}

beforeEach(() => {
  dir = tempDir('hookcast-bounds-')
  clock = Date.UTC(2030, 0, 1)
})
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close()
  dir.remove()
})

describe('one file per stream', () => {
  it('keeps each stream in its own small file, so a change rewrites only that one', async () => {
    const store = await open()
    for (const name of ['a', 'b', 'c'])
      await update(store, `acct/${name}`, (r) => {
        r.streamName = name
      })
    const files = recordFiles()
    expect(files).toHaveLength(3)
    for (const file of files) expect(file).toMatch(/^[0-9a-f]{32}\.json$/)
    expect(existsSync(join(dir.path, 'streams.json'))).toBe(false)
    const inodes = new Map(files.map((file) => [file, statSync(join(dir.path, 'records', file)).ino]))
    await update(store, 'acct/b', (r) => {
      r.accountId = 'acct'
    })
    const changed = recordFiles().filter((file) => statSync(join(dir.path, 'records', file)).ino !== inodes.get(file))
    expect(changed).toHaveLength(1)
    expect(JSON.parse(readFileSync(join(dir.path, 'records', changed[0]!), 'utf8'))).toMatchObject({
      streamId: 'acct/b',
      accountId: 'acct',
    })
    await store.close()
    const reopened = await open()
    expect((await reopened.list()).map((r) => r.streamId).sort()).toEqual(['acct/a', 'acct/b', 'acct/c'])
    expect((await reopened.get('acct/b'))?.record).toMatchObject({ streamName: 'b', accountId: 'acct' })
  })

  it('a stream id of 256 + 256 characters keeps its state and thumbnails (no ENAMETOOLONG)', async () => {
    const long = `${'a'.repeat(256)}/${'ü'.repeat(256)}`
    const store = await open()
    const thumb = ref(long, hex24(1))
    await store.putThumbnail(thumb, jpeg('long'))
    await update(store, long, (r) => {
      r.latestThumbnail = thumb
    })
    expect(await store.thumbnail(long, hex24(1))).toEqual(jpeg('long'))
    await store.close()
    const reopened = await open()
    expect((await reopened.get(long))?.record?.latestThumbnail?.eventId).toBe(hex24(1))
    expect(await reopened.thumbnail(long, hex24(1))).toEqual(jpeg('long'))
  })

  it('moves an existing streams.json (and its thumbnails) to one file per stream at the first start', async () => {
    const old: StreamRecord[] = [
      {
        streamId: 'acct/one',
        status: 'ended',
        feeds: {},
        alerts: { slack: { 'acct/one@1': { live: '1.2' } } },
        emitted: {},
        updatedAt: clock,
        latestThumbnail: ref('acct/one', hex24(7)),
      },
      {
        streamId: 'acct/two',
        status: 'live',
        session: 'acct/two@5',
        liveSince: 5,
        feeds: { f: { started: 5 } },
        alerts: {},
        emitted: { live: 'acct/two@5' },
        updatedAt: clock,
      },
    ]
    writeFileSync(join(dir.path, 'streams.json'), JSON.stringify(old))
    mkdirSync(join(dir.path, 'thumbnails'))
    writeFileSync(join(dir.path, 'thumbnails', `${encodeURIComponent('acct/one')}.${hex24(7)}.jpg`), jpeg('seven'))
    const store = await open()
    expect((await store.list()).map((r) => r.streamId).sort()).toEqual(['acct/one', 'acct/two'])
    expect((await store.get('acct/one'))!.record.alerts).toEqual({ slack: { 'acct/one@1': { live: '1.2' } } })
    expect(await store.thumbnail('acct/one', hex24(7))).toEqual(jpeg('seven'))
    expect(existsSync(join(dir.path, 'streams.json'))).toBe(false)
    expect(recordFiles()).toHaveLength(2)
    await store.close()
    const again = await open()
    expect((await again.get('acct/two'))?.record).toMatchObject({
      status: 'live',
      session: 'acct/two@5',
      feeds: { f: { started: 5 } },
    })
    expect(await again.thumbnail('acct/one', hex24(7))).toEqual(jpeg('seven'))
  })
})

describe('limits', () => {
  it('the config has the limits, with defaults', () => {
    const streams = configSchema.parse({
      sources: { m: { path: '/h', secrets: ['YS1zZWNyZXQtb2YtMzItYnl0ZXMtZm9yLXRlc3RzISE='] } },
    }).streams as Record<string, unknown>
    expect(streams).toMatchObject({ maxStreams: 10_000, keepEnded: 7 * DAY, maxThumbnailBytes: 512 * 1024 * 1024 })
  })

  it('at maxStreams, a new stream evicts ended streams (those that never went live first), never a live one', async () => {
    const limits: string[] = []
    const store = await open({ maxStreams: 4, onLimit: (what: string) => limits.push(what) })
    await update(store, 'acct/live', goLive)
    clock += 1
    await update(store, 'acct/session-over', (r) => {
      r.session = 'acct/session-over@1'
      r.liveSince = 1
      r.endedAt = 2
    })
    clock += 1
    await update(store, 'acct/thumbs-only-1', (r) => {
      r.streamName = 'x'
    })
    clock += 1
    await update(store, 'acct/thumbs-only-2', (r) => {
      r.streamName = 'y'
    })
    clock += 1
    await update(store, 'acct/new-1', (r) => {
      r.streamName = 'n1'
    })
    expect((await store.list()).map((r) => r.streamId).sort()).toEqual([
      'acct/live',
      'acct/new-1',
      'acct/session-over',
      'acct/thumbs-only-2',
    ])
    await update(store, 'acct/new-1', goLive)
    await update(store, 'acct/new-2', goLive)
    await update(store, 'acct/new-3', goLive)
    expect((await store.list()).map((r) => r.streamId).sort()).toEqual([
      'acct/live',
      'acct/new-1',
      'acct/new-2',
      'acct/new-3',
    ])
    // Every record live: a fifth stream is refused rather than evicting a live one.
    await expect(update(store, 'acct/new-4', goLive)).rejects.toThrow(/limit|full/i)
    expect(await store.list()).toHaveLength(4)
    expect(recordFiles()).toHaveLength(4)
    expect(limits).toContain('streams_full')
    // Known streams still change.
    await update(store, 'acct/live', (r) => {
      r.streamName = 'still here'
    })
    expect((await store.get('acct/live'))!.record.streamName).toBe('still here')
  })

  it('ended streams older than keepEnded are swept, with their thumbnails; live ones are kept', async () => {
    const store = await open({ keepEndedMs: 7 * DAY })
    const thumb = ref('acct/old', hex24(3))
    await store.putThumbnail(thumb, jpeg('old'))
    await update(store, 'acct/old', (r) => {
      r.latestThumbnail = thumb
    })
    await update(store, 'acct/live', goLive)
    clock += 6 * DAY
    await update(store, 'acct/recent', (r) => {
      r.streamName = 'recent'
    })
    clock += 2 * DAY
    await store.close()
    // The sweep runs at start (and from time to time after).
    const reopened = await open({ keepEndedMs: 7 * DAY })
    expect((await reopened.list()).map((r) => r.streamId).sort()).toEqual(['acct/live', 'acct/recent'])
    expect(recordFiles()).toHaveLength(2)
    expect(await reopened.thumbnail('acct/old', hex24(3))).toBeUndefined()
    expect(readdirSync(join(dir.path, 'thumbnails'))).toEqual([])
  })

  it('thumbnails are counted against maxThumbnailBytes: ended streams give theirs up first, then a new one is refused', async () => {
    const limits: string[] = []
    const size = 10_000
    const store = await open({ maxThumbnailBytes: 3 * size + 100, onLimit: (what: string) => limits.push(what) })
    const put = async (streamId: string, n: number, live = false) => {
      const thumb = ref(streamId, hex24(n))
      const kept = await store.putThumbnail(thumb, jpeg(`t${n}`, size))
      if (kept !== false)
        await update(store, streamId, (r) => {
          if (live && r.status !== 'live') goLive(r)
          r.latestThumbnail = thumb
        })
      clock += 1
      return kept !== false
    }
    expect(await put('acct/ended-1', 1)).toBe(true)
    await update(store, 'acct/ended-1', (r) => {
      goLive(r)
      r.status = 'ended'
    }) // a session over: its record stays
    expect(await put('acct/live-1', 2, true)).toBe(true)
    expect(await put('acct/live-2', 3, true)).toBe(true)
    const peeked = (await store.peek!('acct/ended-1'))!
    expect(await put('acct/live-3', 4, true)).toBe(true) // room made by dropping ended-1's thumbnail
    expect((await store.get('acct/ended-1'))?.record?.latestThumbnail).toBeUndefined()
    expect((await store.peek!('acct/ended-1'))!.revision).not.toBe(peeked.revision)
    expect(peeked.record.latestThumbnail?.eventId).toBe(hex24(1)) // replaced, not changed under a reader
    expect(await store.thumbnail('acct/ended-1', hex24(1))).toBeUndefined()
    expect(await put('acct/live-4', 5, true)).toBe(false) // every stored thumbnail belongs to a live stream
    expect(limits).toContain('thumbnail_bytes')
    const bytes = readdirSync(join(dir.path, 'thumbnails')).reduce(
      (sum, f) => sum + statSync(join(dir.path, 'thumbnails', f)).size,
      0,
    )
    expect(bytes).toBeLessThanOrEqual(3 * size + 100)
    // A live stream's newer thumbnail replaces its own older one: that always fits.
    expect(await put('acct/live-1', 6, true)).toBe(true)
    expect(await store.thumbnail('acct/live-1', hex24(2))).toBeUndefined()
  })
})

describe('tracker bounds', () => {
  let store: StreamStore
  let emitted: HookEvent[]
  let tracker: ReturnType<typeof createStreamTracker>
  let checks: TimedChecks
  const ctx = () => ({ source: 'millicast', receivedAt: Date.now() })
  const feed = (event: 'started' | 'ended', data: Record<string, unknown>, at = Date.now() - 1_000) =>
    parseJsonHook(
      new TextEncoder().encode(
        JSON.stringify({
          type: 'feeds',
          event,
          timestamp: at,
          data: {
            feedId: 'f1',
            accountId: 'acct',
            name: 'show',
            streamId: 'acct/show',
            active: event === 'started',
            [event]: at,
            ...data,
          },
        }),
      ),
      ctx(),
    )
  beforeEach(async () => {
    emitted = []
    store = await openLocalStreamStore({ dir: dir.path, log: silentLogger, maxStreams: 3 } as Options)
    stores.push(store)
    checks = timedChecks(() => tracker)
    tracker = createStreamTracker({
      store,
      flapWindowMs: 100,
      emit: async (e) => {
        emitted.push(e)
      },
      scheduleCheck: checks.scheduleCheck,
      log: silentLogger,
    })
    await tracker.start()
  })
  afterEach(async () => {
    checks.stop()
    await tracker.close?.()
  })

  // The parser refuses these now; the tracker does not rely on it (the spool may hold events parsed before).
  const forged = async (fields: Partial<HookEvent>) => ({ ...(await feed('started', {})), ...fields })

  it('ignores stream ids longer than a platform stream id can be, and overlong names', async () => {
    await tracker.deliver(await forged({ streamId: `acct/${'x'.repeat(600)}`, streamName: 'x'.repeat(600) }))
    await tracker.deliver(await forged({ streamId: 'x'.repeat(5 * 1024 * 1024) }))
    await tracker.deliver(await forged({ streamId: 'acct/long-feed', feedId: 'f'.repeat(10_000) }))
    expect(await store.list()).toEqual([])
    await tracker.deliver(
      await forged({ streamId: 'acct/ok', streamName: 'n'.repeat(100_000), accountId: 'a'.repeat(100_000) }),
    )
    expect((await store.list()).map((r) => r.streamId)).toEqual(['acct/ok'])
    expect((await store.get('acct/ok'))!.record.streamName).toBe('ok')
    expect((await store.get('acct/ok'))!.record.accountId).toBe('acct')
    expect(JSON.stringify((await store.get('acct/ok'))?.record).length).toBeLessThan(2_000)
  })

  it('bounds the feeds one stream keeps', async () => {
    for (let i = 0; i < 300; i++) await tracker.deliver(await feed('started', { feedId: `feed-${i}` }))
    const feeds = Object.keys((await store.get('acct/show'))!.record.feeds).length
    expect(feeds).toBeGreaterThan(0)
    expect(feeds).toBeLessThanOrEqual(256)
    // Full of active feeds: a further one changes nothing, so nothing is written.
    const revision = (await store.get('acct/show'))!.revision
    await tracker.deliver(await feed('started', { feedId: 'one-more' }))
    expect((await store.get('acct/show'))!.revision).toBe(revision)
  })

  it('a new feed of a stream full of active feeds is looked up on the stored record: no copy, no write; a freed slot is taken', async () => {
    const limits: string[] = []
    const gets: string[] = []
    const counted: StreamStore = {
      ...store,
      get: (streamId) => {
        gets.push(streamId)
        return store.get(streamId)
      },
    }
    const own = createStreamTracker({
      store: counted,
      flapWindowMs: 100,
      emit: async () => {},
      scheduleCheck: checks.scheduleCheck,
      log: silentLogger,
      onLimit: (what) => limits.push(what),
    })
    for (let i = 0; i < 256; i++) await own.deliver(await feed('started', { feedId: `feed-${i}` }))
    const revision = (await store.get('acct/show'))!.revision
    gets.length = 0
    for (const id of ['more-1', 'more-2', 'more-3']) await own.deliver(await feed('started', { feedId: id }))
    expect(gets).toEqual([])
    expect(limits.filter((what) => what === 'feeds_full')).toHaveLength(3)
    expect((await store.get('acct/show'))!.revision).toBe(revision)
    // A hook that changes the stream still reads and writes: a new name, a known feed's end.
    await own.deliver(await feed('started', { feedId: 'more-4', name: 'renamed', streamId: 'acct/show' }))
    expect((await store.get('acct/show'))!.record.streamName).toBe('renamed')
    await own.deliver(await feed('ended', { feedId: 'feed-0', name: 'renamed' }))
    await own.deliver(await feed('started', { feedId: 'more-5', name: 'renamed' }))
    const feeds = (await store.get('acct/show'))!.record.feeds
    expect(Object.hasOwn(feeds, 'more-5')).toBe(true)
    expect(Object.hasOwn(feeds, 'feed-0')).toBe(false)
    expect(limits.filter((what) => what === 'feeds_full')).toHaveLength(4)
    await own.close?.()
  })

  it('a new stream when every record is live is not tracked, and the hook is still delivered (not retried)', async () => {
    for (const name of ['a', 'b', 'c']) await tracker.deliver(await feed('started', { streamId: `acct/${name}`, name }))
    await expect(tracker.deliver(await feed('started', { streamId: 'acct/d', name: 'd' }))).resolves.toBeUndefined()
    expect((await store.list()).map((r) => r.streamId).sort()).toEqual(['acct/a', 'acct/b', 'acct/c'])
    const hook = await signedThumbnail({ body: jpeg('d'), streamId: 'acct/d', timestamp: Date.now() })
    await expect(
      tracker.deliver(await parseThumbnail(hook.body, new Headers(hook.headers), ctx())),
    ).resolves.toBeUndefined()
    await tracker.close?.() // flushes the pending latest thumbnail
    expect((await store.get('acct/d'))?.record).toBeUndefined()
    expect(readdirSync(join(dir.path, 'thumbnails'))).toEqual([])
  })
})
