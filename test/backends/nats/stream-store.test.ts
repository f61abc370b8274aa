/**
 * The stream store contract against NATS KV on a real nats-server (reopen: a new connection and store on the same
 * buckets), then what sharing adds: stores on two connections racing on one stream apply each change once, and the
 * bounds kept by the server (streams, thumbnail bytes) with their eviction, thumbnails larger than max_payload,
 * replaced thumbnails removed, and the sweep.
 */
import { describe, expect, it } from 'vitest'
import type { NatsConnection } from '@nats-io/transport-node'
import { openNatsStreamStore, type NatsStreamStoreOptions } from '../../../src/backends/nats/stream-store.ts'
import { updateWithRetry } from '../../../src/streams/stream-store.ts'
import { silentLogger } from '../../../src/log.ts'
import { StreamLimitError, type ThumbnailRef } from '../../../src/streams/stream-types.ts'
import { jpeg } from '../../support/hooks.ts'
import { natsForTests } from './nats-for-tests.ts'
import { sleep } from '../../support/wait.ts'
import { streamStoreContract } from '../../streams/stream-store.contract.ts'

/** Small enough that a contract thumbnail (20 kB) and the big one below take several chunks. */
const MAX_PAYLOAD = 64 * 1024

const server = natsForTests({ maxPayload: MAX_PAYLOAD })

let buckets = 0
let last: Pick<NatsStreamStoreOptions, 'bucket' | 'thumbnailBucket'> = {}
const fresh = () => {
  buckets++
  return (last = { bucket: `streams-${buckets}`, thumbnailBucket: `thumbnails-${buckets}` })
}
const open = async (names: typeof last, extra: Partial<NatsStreamStoreOptions> = {}, nc?: NatsConnection) =>
  openNatsStreamStore({ nc: nc ?? (await server.connect()), log: silentLogger, ...names, ...extra })

streamStoreContract({
  name: 'nats',
  open: () => open(fresh()),
  reopen: () => open(last),
})

/** Byte equality (vitest's deep equality walks a typed array element by element: seconds for a big one). */
const sameBytes = (actual: Uint8Array | undefined, expected: Uint8Array) =>
  expect(actual && Buffer.from(actual).equals(Buffer.from(expected))).toBe(true)
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

describe('nats stream store, shared', () => {
  it('two stores on two connections racing updateWithRetry on one stream apply every change exactly once', async () => {
    const names = fresh()
    const [a, b] = await Promise.all([open(names), open(names)])
    const runs = { a: 0, b: 0 }
    const bump = (store: typeof a, who: 'a' | 'b', i: number) =>
      updateWithRetry(store, 'ZG6NWV/race', (r) => {
        runs[who]++
        r.feeds[`${who}${i}`] = { started: i }
        r.streamName = String(Number(r.streamName ?? 0) + 1)
      })
    await Promise.all(Array.from({ length: 25 }, (_, i) => [bump(a, 'a', i), bump(b, 'b', i)]).flat())
    for (const store of [a, b]) {
      const { record } = (await store.get('ZG6NWV/race'))!
      expect(record.streamName).toBe('50')
      expect(Object.keys(record.feeds)).toHaveLength(50)
    }
    expect(runs.a + runs.b).toBeGreaterThan(50) // they did collide, and the losers applied their change again
    await Promise.all([a.close(), b.close()])
  })

  it("keeps a thumbnail larger than the server's max_payload, and removes one the record stops referring to", async () => {
    const store = await open(fresh())
    const big = jpeg('big', 5 * MAX_PAYLOAD + 123)
    expect(await store.putThumbnail(ref('ZG6NWV/big', hex24(1)), big)).toBe(true)
    await updateWithRetry(store, 'ZG6NWV/big', (r) => {
      r.firstThumbnail = ref('ZG6NWV/big', hex24(1))
      r.latestThumbnail = r.firstThumbnail
    })
    sameBytes(await store.thumbnail('ZG6NWV/big', hex24(1)), big)

    expect(await store.putThumbnail(ref('ZG6NWV/big', hex24(2), 2), jpeg('second', 1_000))).toBe(true)
    await updateWithRetry(store, 'ZG6NWV/big', (r) => {
      r.latestThumbnail = ref('ZG6NWV/big', hex24(2), 2)
    })
    sameBytes(await store.thumbnail('ZG6NWV/big', hex24(1)), big) // still the first
    expect(await store.putThumbnail(ref('ZG6NWV/big', hex24(3), 3), jpeg('third', 1_000))).toBe(true)
    // Another instance replaces the latest: the one it replaced goes, whoever wrote it.
    const other = await open(last)
    await updateWithRetry(other, 'ZG6NWV/big', (r) => {
      r.latestThumbnail = ref('ZG6NWV/big', hex24(3), 3)
    })
    expect(await store.thumbnail('ZG6NWV/big', hex24(2))).toBeUndefined()
    expect(await store.thumbnail('ZG6NWV/big', hex24(3))).toEqual(jpeg('third', 1_000))
    sameBytes(await store.thumbnail('ZG6NWV/big', hex24(1)), big)
    await Promise.all([store.close(), other.close()])
  })

  it('holds maxStreams records: a new stream evicts an ended one, never a live one, and is refused when all are live', async () => {
    const limits: string[] = []
    const names = fresh()
    const store = await open(names, { maxStreams: 3, onLimit: (what) => limits.push(what) })
    await updateWithRetry(store, 'ZG6NWV/live-1', (r) => {
      r.status = 'live'
    })
    await updateWithRetry(store, 'ZG6NWV/ended', (r) => {
      r.status = 'ended'
    })
    await updateWithRetry(store, 'ZG6NWV/live-2', (r) => {
      r.status = 'live'
    })
    // A known stream still changes at the bound.
    await updateWithRetry(store, 'ZG6NWV/live-1', (r) => {
      r.streamName = 'still changes'
    })
    await updateWithRetry(store, 'ZG6NWV/new', (r) => {
      r.status = 'live'
    })
    expect(limits).toEqual(['stream_evicted'])
    expect((await store.list()).map((r) => r.streamId).sort()).toEqual(['ZG6NWV/live-1', 'ZG6NWV/live-2', 'ZG6NWV/new'])
    // Another instance, at the same bound, cannot make room either.
    const other = await open(names, { maxStreams: 3 })
    await expect(
      updateWithRetry(other, 'ZG6NWV/refused', (r) => {
        r.status = 'live'
      }),
    ).rejects.toMatchObject({ limit: 'streams_full' })
    await expect(updateWithRetry(store, 'ZG6NWV/refused', () => {})).rejects.toBeInstanceOf(StreamLimitError)
    expect(limits).toEqual(['stream_evicted', 'streams_full'])
    expect(await store.stats()).toMatchObject({ streams: 3 })
    await Promise.all([store.close(), other.close()])
  })

  it("holds maxThumbnailBytes: a thumbnail takes the room of ended streams' thumbnails, else it is refused", async () => {
    const limits: string[] = []
    const store = await open(fresh(), { maxThumbnailBytes: 200_000, onLimit: (what) => limits.push(what) })
    const put = async (streamId: string, n: number, status: 'live' | 'ended') => {
      const thumb = ref(streamId, hex24(n))
      const kept = await store.putThumbnail(thumb, jpeg(`t${n}`, 60_000))
      if (kept)
        await updateWithRetry(store, streamId, (r) => {
          r.status = status
          r.session = `${streamId}@1`
          r.firstThumbnail = thumb
          r.latestThumbnail = thumb
        })
      return kept
    }
    expect(await put('ZG6NWV/ended', 1, 'ended')).toBe(true)
    expect(await put('ZG6NWV/live-1', 2, 'live')).toBe(true)
    expect(await put('ZG6NWV/live-2', 3, 'live')).toBe(true)
    expect(await put('ZG6NWV/live-3', 4, 'live')).toBe(true) // the ended stream's thumbnail made room
    expect((await store.get('ZG6NWV/ended'))!.record.firstThumbnail).toBeUndefined()
    expect(await store.thumbnail('ZG6NWV/ended', hex24(1))).toBeUndefined()
    expect(await put('ZG6NWV/live-4', 5, 'live')).toBe(false)
    expect(limits).toEqual(['thumbnail_bytes'])
    for (let n = 2; n <= 4; n++)
      sameBytes(await store.thumbnail(`ZG6NWV/live-${n - 1}`, hex24(n)), jpeg(`t${n}`, 60_000))
    expect((await store.stats()).thumbnailBytes).toBeLessThanOrEqual(200_000)
    await store.close()
  })

  it("a delete leaves thumbnails stored after the deleted revision: a new session's, being written on another instance", async () => {
    const names = fresh()
    const [a, b] = await Promise.all([open(names), open(names)])
    const old = ref('ZG6NWV/again', hex24(1))
    await a.putThumbnail(old, jpeg('old session', 1_000))
    const ended = (await updateWithRetry(a, 'ZG6NWV/again', (r) => {
      r.status = 'ended'
      r.latestThumbnail = old
    }))!
    await sleep(5)
    // Instance b: the stream starts again; its first thumbnail is stored, then its write meets a deleted record.
    const first = ref('ZG6NWV/again', hex24(2), 2)
    await b.putThumbnail(first, jpeg('new session', 1_000))
    expect(await a.delete('ZG6NWV/again', ended.revision)).toBe(true)
    await updateWithRetry(b, 'ZG6NWV/again', (r) => {
      r.status = 'live'
      r.firstThumbnail = first
    })
    expect(await a.thumbnail('ZG6NWV/again', hex24(1))).toBeUndefined()
    sameBytes(await a.thumbnail('ZG6NWV/again', hex24(2)), jpeg('new session', 1_000))
    await Promise.all([a.close(), b.close()])
  })

  it('sweeps ended streams past keepEnded, with their thumbnails, and thumbnails of no stream', async () => {
    let clock = 1_000_000
    const names = fresh()
    const store = await open(names, { keepEndedMs: 60_000, now: () => clock })
    const thumb = ref('ZG6NWV/old', hex24(1))
    await store.putThumbnail(thumb, jpeg('old', 1_000))
    await updateWithRetry(store, 'ZG6NWV/old', (r) => {
      r.status = 'ended'
      r.latestThumbnail = thumb
    })
    await updateWithRetry(store, 'ZG6NWV/live', (r) => {
      r.status = 'live'
    })
    await store.putThumbnail(ref('ZG6NWV/none', hex24(2)), jpeg('stray', 1_000)) // no record ever refers to it
    clock += 120_000
    await updateWithRetry(store, 'ZG6NWV/recent', (r) => {
      r.status = 'ended'
    })
    expect(await store.sweep()).toBe(1)
    expect((await store.list()).map((r) => r.streamId).sort()).toEqual(['ZG6NWV/live', 'ZG6NWV/recent'])
    expect(await store.thumbnail('ZG6NWV/old', hex24(1))).toBeUndefined()
    // The stray thumbnail waits a minute of wall-clock time (its record may be on the way): still there.
    expect(await store.thumbnail('ZG6NWV/none', hex24(2))).toBeDefined()
    await store.close()
  })
})
