/**
 * The stream store contract against the S3 stream store: s3rver behind the conditional proxy (which gives PUT and
 * DELETE AWS's If-Match / If-None-Match answers; s3rver ignores them), a prefix per store in one bucket; reopening
 * is a new store on the same prefix (another invocation). Plus a race of stores on one bucket, as concurrent Lambda
 * invocations are, which only S3's conditions keep apart.
 */
import { describe, expect, it } from 'vitest'
import { openS3StreamStore } from '../../../src/backends/s3/stream-store.ts'
import { updateWithRetry, type StreamStore } from '../../../src/streams/stream-store.ts'
import { conditionalBucket } from './conditional-proxy.ts'
import { streamStoreContract } from '../../streams/stream-store.contract.ts'
import { jpeg } from '../../support/hooks.ts'

const BUCKET = 'state'
const s3 = conditionalBucket(BUCKET)

let count = 0
let last = ''
const openAt = (prefix: string, endpoint?: string): StreamStore =>
  openS3StreamStore({
    ...s3.connection(endpoint),
    prefix,
  })

streamStoreContract({
  name: 's3',
  open: async () => openAt((last = `contract${count++}`)),
  reopen: async () => openAt(last),
})

describe('S3 stream store across invocations', () => {
  it('stores on one bucket apply concurrent updates of one stream each exactly once', async () => {
    const prefix = `race${count++}`
    const stores = Array.from({ length: 4 }, () => openAt(prefix))
    const before = s3.proxy().counts.preconditionFailed
    await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        updateWithRetry(stores[i % 4]!, 'ZG6NWV/race', (r) => {
          r.feeds[`f${i}`] = { started: i }
          r.streamName = String(Number(r.streamName ?? 0) + 1)
        }),
      ),
    )
    const { record } = (await stores[0]!.get('ZG6NWV/race'))!
    expect(Object.keys(record.feeds)).toHaveLength(16)
    expect(record.streamName).toBe('16')
    expect(s3.proxy().counts.preconditionFailed).toBeGreaterThan(before) // they did collide
    await Promise.all(stores.map((store) => store.close()))
  })

  it('on s3rver alone, a stale write wins (why the proxy)', async () => {
    const store = openAt(`raw${count++}`, s3.server().endpoint)
    const first = await updateWithRetry(store, 'ZG6NWV/raw', (r) => {
      r.streamName = 'first'
    })
    await updateWithRetry(store, 'ZG6NWV/raw', (r) => {
      r.streamName = 'second'
    })
    const stale = first!.record
    stale.streamName = 'stale'
    expect(await store.put('ZG6NWV/raw', stale, first!.revision)).not.toBe('conflict')
    expect((await store.get('ZG6NWV/raw'))!.record.streamName).toBe('stale')
    await store.close()
  })

  it('keeps the thumbnails a record refers to and a few spare ones', async () => {
    const store = openS3StreamStore({
      ...s3.connection(),
      prefix: `spare${count++}`,
      spareThumbnails: 2,
    })
    const stream = 'ZG6NWV/thumbs'
    const ref = (n: number) => ({
      eventId: `e${n}`,
      timestamp: n,
      event: {
        id: `e${n}`,
        source: 'millicast',
        type: 'thumbnail',
        event: 'thumbnail',
        timestamp: n,
        receivedAt: n,
        streamId: stream,
        contentType: 'image/jpeg' as const,
        bodySha256: '0'.repeat(64),
      },
    })
    await store.putThumbnail(ref(0), jpeg('first', 1_000))
    await updateWithRetry(store, stream, (r) => {
      r.firstThumbnail = ref(0)
      r.latestThumbnail = ref(0)
    })
    for (let n = 1; n <= 8; n++) {
      await store.putThumbnail(ref(n), jpeg(`t${n}`, 1_000))
      await updateWithRetry(store, stream, (r) => {
        r.latestThumbnail = ref(n)
      })
    }
    expect(await store.thumbnail(stream, 'e0')).toEqual(jpeg('first', 1_000)) // the first stays
    expect(await store.thumbnail(stream, 'e8')).toEqual(jpeg('t8', 1_000))
    const kept = await Promise.all(Array.from({ length: 9 }, (_, n) => store.thumbnail(stream, `e${n}`)))
    expect(kept.filter((bytes) => bytes !== undefined).length).toBeLessThanOrEqual(2 + 2)
    await store.close()
  })
})
