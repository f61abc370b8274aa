/**
 * The contract every stream store passes (memory, local, NATS, S3): create only when absent, compare-and-set updates,
 * concurrent updaters through updateWithRetry each applied exactly once, list, delete, thumbnails (those a record's
 * health refers to included), copies that cannot change the store behind its back, input keys without a prototype,
 * and (for a store that outlives its process) everything across a reopen.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { updateWithRetry, type StreamStore } from '../../src/streams/stream-store.ts'
import { freshRecord } from '../../src/streams/stream-record.ts'
import { STREAM_LIMITS, StreamLimitError, type ThumbnailRef } from '../../src/streams/stream-types.ts'
import { jpeg } from '../support/hooks.ts'
import { skipWhen } from '../support/skip.ts'

export interface StreamStoreContract {
  name: string
  /** A fresh, empty store. */
  open(): Promise<StreamStore>
  /** The last store's storage opened again after its `close` (a restart); absent for a store that dies with its process. */
  reopen?(): Promise<StreamStore>
}

const STREAM = 'ZG6NWV/show'
const hex24 = (n: number) => n.toString(16).padStart(24, '0')
const ref = (streamId: string, eventId: string, timestamp = 1): ThumbnailRef => ({
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

export function streamStoreContract(target: StreamStoreContract): void {
  describe(`${target.name} stream store contract`, () => {
    let store: StreamStore
    beforeEach(async () => {
      store = await target.open()
    })
    afterEach(async () => {
      await store.close()
    })

    it('creates a record only when there is none, and hands out its revision', async () => {
      expect(await store.get(STREAM)).toBeUndefined()
      const record = freshRecord(STREAM, 0)
      record.streamName = 'show'
      const revision = await store.put(STREAM, record, null)
      expect(revision).not.toBe('conflict')
      expect(await store.get(STREAM)).toEqual({
        record: expect.objectContaining({ streamId: STREAM, streamName: 'show' }),
        revision,
      })
      const again = freshRecord(STREAM, 0)
      again.streamName = 'other'
      expect(await store.put(STREAM, again, null)).toBe('conflict')
      expect((await store.get(STREAM))!.record.streamName).toBe('show')
    })

    it('updates at the revision read; a write at an older revision is a conflict and changes nothing', async () => {
      const first = (await store.put(STREAM, freshRecord(STREAM, 0), null)) as string
      const read = (await store.get(STREAM))!
      read.record.accountId = 'ZG6NWV'
      const second = await store.put(STREAM, read.record, first)
      expect(second).not.toBe('conflict')
      expect(second).not.toBe(first)
      const stale = freshRecord(STREAM, 0)
      stale.accountId = 'stale'
      expect(await store.put(STREAM, stale, first)).toBe('conflict')
      expect(await store.get(STREAM)).toMatchObject({ record: { accountId: 'ZG6NWV' }, revision: second })
      expect(await store.put('ZG6NWV/missing', freshRecord('ZG6NWV/missing', 0), first)).toBe('conflict')
      expect(await store.get('ZG6NWV/missing')).toBeUndefined()
    })

    it('hands out copies: changing one changes nothing stored; a put stamps updatedAt', async () => {
      const record = freshRecord(STREAM, 0)
      await store.put(STREAM, record, null)
      expect(record.updatedAt).toBeGreaterThan(0)
      const read = (await store.get(STREAM))!
      read.record.status = 'live'
      read.record.feeds.a = { started: 1 }
      record.streamName = 'changed after the put'
      expect((await store.get(STREAM))!.record).toMatchObject({ status: 'ended', feeds: {} })
      expect((await store.get(STREAM))!.record.streamName).toBeUndefined()
      expect((await store.list())[0]!.feeds).toEqual({})
    })

    it('peek, where a store has it: the stored record and revision, as a get reads them, left as they were by later writes', async () => {
      if (!store.peek) return expect(store.peek).toBeUndefined() // a store without it: readers get copies
      expect(await store.peek(STREAM)).toBeUndefined()
      const record = freshRecord(STREAM, 0)
      record.feeds.a = { started: 1 }
      const revision = (await store.put(STREAM, record, null)) as string
      const peeked = (await store.peek(STREAM))!
      expect(peeked).toEqual(await store.get(STREAM))
      expect(peeked.revision).toBe(revision)
      const read = (await store.get(STREAM))!
      read.record.feeds.a = { started: 1, ended: 2 }
      read.record.feeds.b = { started: 3 }
      read.record.status = 'live'
      await store.put(STREAM, read.record, revision)
      expect(peeked.record.feeds).toEqual({ a: { started: 1 } })
      expect(peeked.record.status).toBe('ended')
      expect((await store.peek(STREAM))!.record.feeds).toEqual({ a: { started: 1, ended: 2 }, b: { started: 3 } })
    })

    it('keeps input keys (feed ids, notifier names) as keys: no prototype, no pollution', async () => {
      await updateWithRetry(store, STREAM, (r) => {
        for (const id of ['__proto__', 'constructor', 'toString']) r.feeds[id] = { started: 1 }
        r.alerts['__proto__'] = Object.assign(Object.create(null), { s1: { live: '1.2' } })
      })
      const { record } = (await store.get(STREAM))!
      expect(Object.getPrototypeOf(record.feeds)).toBeNull()
      expect(Object.getPrototypeOf(record.alerts)).toBeNull()
      expect(Object.keys(record.feeds).sort()).toEqual(['__proto__', 'constructor', 'toString'])
      expect(Object.hasOwn(record.alerts, '__proto__')).toBe(true)
      expect(({} as Record<string, unknown>).started).toBeUndefined()
    })

    it('two updaters of one stream at once, through updateWithRetry: both applied, each exactly once', async () => {
      await store.put(STREAM, freshRecord(STREAM, 0), null)
      let runs = 0
      const bump = (who: string) =>
        updateWithRetry(store, STREAM, (r) => {
          runs++
          r.feeds[who] = { started: (r.feeds[who]?.started ?? 0) + 1 }
          r.streamName = String(Number(r.streamName ?? 0) + 1)
        })
      await Promise.all([bump('a'), bump('b')])
      const { record } = (await store.get(STREAM))!
      expect(record.feeds).toEqual({ a: { started: 1 }, b: { started: 1 } })
      expect(record.streamName).toBe('2')
      expect(runs).toBeGreaterThanOrEqual(2)
      // Many at once, one new stream among them: still each once.
      const many = Array.from({ length: 20 }, (_, i) =>
        updateWithRetry(store, 'ZG6NWV/busy', (r) => {
          r.feeds[`f${i}`] = { started: i }
          r.streamName = String(Number(r.streamName ?? 0) + 1)
        }),
      )
      await Promise.all(many)
      const busy = (await store.get('ZG6NWV/busy'))!.record
      expect(Object.keys(busy.feeds)).toHaveLength(20)
      expect(busy.streamName).toBe('20')
    })

    it('updateWithRetry: no write when the change says so, and no record made when only an existing one may change', async () => {
      const created = (await updateWithRetry(store, STREAM, (r) => {
        r.streamName = 'show'
      }))!
      const unchanged = await updateWithRetry(store, STREAM, () => false)
      expect(unchanged!.revision).toBe(created.revision)
      expect(
        await updateWithRetry(
          store,
          'ZG6NWV/none',
          (r) => {
            r.streamName = 'x'
          },
          { existing: true },
        ),
      ).toBeUndefined()
      expect(await store.get('ZG6NWV/none')).toBeUndefined()
    })

    it('lists every record', async () => {
      for (const name of ['a', 'b', 'c'])
        await updateWithRetry(store, `ZG6NWV/${name}`, (r) => {
          r.streamName = name
        })
      expect((await store.list()).map((r) => r.streamName).sort()).toEqual(['a', 'b', 'c'])
    })

    it('deletes at a revision, or whatever it is; a record made again never takes an old revision', async () => {
      const old = (await store.put(STREAM, freshRecord(STREAM, 0), null)) as string
      const current = (await updateWithRetry(store, STREAM, (r) => {
        r.streamName = 'show'
      }))!.revision
      expect(await store.delete(STREAM, old)).toBe('conflict')
      expect(await store.get(STREAM)).toBeDefined()
      expect(await store.delete(STREAM, current)).toBe(true)
      expect(await store.get(STREAM)).toBeUndefined()
      expect(await store.delete(STREAM)).toBe(false)
      const again = await store.put(STREAM, freshRecord(STREAM, 0), null)
      expect([old, current]).not.toContain(again)
      expect(await store.put(STREAM, freshRecord(STREAM, 0), current)).toBe('conflict')
      await updateWithRetry(store, 'ZG6NWV/other', (r) => {
        r.streamName = 'other'
      })
      expect(await store.delete('ZG6NWV/other')).toBe(true)
    })

    it('keeps thumbnail bytes exactly, by stream and event id, for the record to refer to', async () => {
      const thumb = ref(STREAM, hex24(1))
      const bytes = jpeg('contract', 20_000)
      expect(await store.putThumbnail(thumb, bytes)).toBe(true)
      await updateWithRetry(store, STREAM, (r) => {
        r.latestThumbnail = thumb
        r.firstThumbnail = thumb
      })
      for (let i = 0; i < 3; i++)
        await updateWithRetry(store, STREAM, (r) => {
          r.streamName = `change ${i}`
        })
      expect(await store.thumbnail(STREAM, hex24(1))).toEqual(bytes)
      expect(await store.thumbnail(STREAM, hex24(2))).toBeUndefined()
      expect(await store.thumbnail('ZG6NWV/other', hex24(1))).toBeUndefined()
      expect(await store.putThumbnail(thumb, bytes)).toBe(true) // the same event again
      expect(await store.delete(STREAM)).toBe(true)
      expect(await store.thumbnail(STREAM, hex24(1))).toBeUndefined()
    })

    it('keeps the health state, and the thumbnails it refers to while it does, however many come after', async () => {
      const black = ref(STREAM, hex24(100), 100)
      const shown = ref(STREAM, hex24(101), 101)
      await store.putThumbnail(black, jpeg('black picture', 3_000))
      await store.putThumbnail(shown, jpeg('recovered picture', 3_000))
      const health = {
        session: `${STREAM}@1`,
        state: 'black' as const,
        open: { black: { since: 100, thumbnail: black, measurements: { meanLuma: 16, darkFraction: 0.99 } } },
        grid: 'AAAA',
        seq: 2,
        outbox: [{ seq: 1, event: 'recovered' as const, at: 101, data: { problem: 'frozen' } }],
        shown: [shown],
      }
      await updateWithRetry(store, STREAM, (r) => {
        r.health = health
      })
      for (let i = 0; i < 12; i++) {
        const next = ref(STREAM, hex24(200 + i), 200 + i)
        await store.putThumbnail(next, jpeg(`later ${i}`, 3_000))
        await updateWithRetry(store, STREAM, (r) => {
          r.latestThumbnail = next
        })
      }
      expect((await store.get(STREAM))!.record.health).toEqual(health)
      expect(await store.thumbnail(STREAM, hex24(100))).toEqual(jpeg('black picture', 3_000))
      expect(await store.thumbnail(STREAM, hex24(101))).toEqual(jpeg('recovered picture', 3_000))
    })

    it('refuses to make a record for an id longer than a stream id can be', async () => {
      const long = `acct/${'x'.repeat(STREAM_LIMITS.streamIdLength)}`
      await expect(store.put(long, freshRecord(long, 0), null)).rejects.toBeInstanceOf(StreamLimitError)
      expect(await store.list()).toEqual([])
    })

    const noReopen = !target.reopen && `the ${target.name} store keeps nothing to reopen`
    it('keeps records, revisions and thumbnails across a reopen', skipWhen(noReopen), async () => {
      const thumb = ref(STREAM, hex24(5))
      await store.putThumbnail(thumb, jpeg('durable', 5_000))
      const before = (await updateWithRetry(store, STREAM, (r) => {
        r.streamName = 'show'
        r.feeds['__proto__'] = { started: 1 }
        r.latestThumbnail = thumb
      }))!
      const stale = (await store.get(STREAM))!.revision
      await store.close()
      store = await target.reopen!()
      const after = (await store.get(STREAM))!
      expect(after).toEqual(before)
      expect(Object.getPrototypeOf(after.record.feeds)).toBeNull()
      expect(await store.thumbnail(STREAM, hex24(5))).toEqual(jpeg('durable', 5_000))
      const next = await store.put(STREAM, after.record, stale)
      expect(next).not.toBe('conflict')
      expect(await store.put(STREAM, after.record, stale)).toBe('conflict')
    })
  })
}
