/** Deliveries of one event to several destinations read its body back from disk once, together. */
import { afterEach, describe, expect, it } from 'vitest'
import { openLocalQueue } from '../../../src/backends/local/queue.ts'
import { parseThumbnail } from '../../../src/events/parse.ts'
import { silentLogger } from '../../../src/log.ts'
import { jpeg, signedThumbnail } from '../../support/hooks.ts'
import { tempDir } from '../../support/files.ts'

const dir = tempDir('hookcast-shared-reads-')
afterEach(() => dir.remove())

describe('local queue read-back', () => {
  it('shares one read between the deliveries under way', async () => {
    const options = {
      dir: dir.path,
      fsync: false,
      maxBytes: 1 << 26,
      segmentBytes: 1 << 20,
      cacheBytes: 1,
      log: silentLogger,
    }
    const hook = await signedThumbnail({ body: jpeg('shared', 200_000) })
    const event = await parseThumbnail(hook.body, new Headers(hook.headers), {
      source: 'millicast',
      receivedAt: Date.now(),
    })
    let store = await openLocalQueue(options)
    await store.put(event, ['disk', 'chat'])
    await store.close()

    store = await openLocalQueue(options) // nothing cached: bodies come back from disk
    const claims = await store.claim({ max: 2, leaseMs: 10_000 })
    const disk = claims.find((c) => c.destination === 'disk')!
    const chat = claims.find((c) => c.destination === 'chat')!
    const [a, b] = await Promise.all([store.load(disk), store.load(chat)])
    expect(a.body).toBe(b.body)
    expect(Buffer.from(a.body)).toEqual(Buffer.from(hook.body))
    const later = await store.load(disk) // a third delivery while the others are under way
    expect(later.body).toBe(a.body)
    await store.ack(disk)
    await store.ack(chat)
    expect((await store.stats()).pendingEvents).toBe(0)
    await store.close()
  })
})
