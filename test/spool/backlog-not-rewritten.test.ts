/** A backlog being delivered is left where it is: only events nothing is getting to are copied forward. */
import { afterEach, describe, expect, it } from 'vitest'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { openLocalSpool } from '../../src/spool/local-spool.ts'
import { parseThumbnail } from '../../src/events/parse.ts'
import { silentLogger } from '../../src/log.ts'
import { jpeg, signedThumbnail } from '../support/hooks.ts'
import { tempDir } from '../support/files.ts'
import { sleep } from '../support/wait.ts'

const dir = tempDir('hookcast-backlog-')
afterEach(() => dir.remove())

describe('spool maintenance during a backlog', () => {
  it('does not copy forward the events of a segment whose deliveries are progressing', async () => {
    const store = await openLocalSpool({
      dir: dir.path, fsync: false, maxBytes: 1 << 26, segmentBytes: 64 * 1024, cacheBytes: 1 << 20, log: silentLogger,
    })
    const deliveries = []
    for (let i = 0; i < 24; i++) {
      const hook = await signedThumbnail({ body: jpeg(`backlog-${i}`, 20_000), timestamp: 1_700_000_000_000 + i })
      const event = await parseThumbnail(hook.body, new Headers(hook.headers), { source: 'millicast', receivedAt: Date.now() })
      deliveries.push(...await store.append(event, ['disk']))
    }
    const newest = () => Math.max(...readdirSync(join(dir.path, 'segments')).map((name) => Number(name.slice(0, 10))))
    const before = newest()
    // One delivery every 150 ms: the backlog drains across several maintenance ticks (one a second).
    for (const delivery of deliveries) {
      await store.load(delivery.eventId, delivery.destination)
      await store.delivered(delivery)
      await sleep(150)
    }
    // Delivered-state records are a few dozen bytes each: copying 20 KB events forward would fill new segments.
    expect(newest() - before).toBeLessThanOrEqual(1)
    expect(store.stats().pendingEvents).toBe(0)
    await store.close()
  }, 20_000)
})
