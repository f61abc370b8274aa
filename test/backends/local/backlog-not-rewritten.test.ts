/** A backlog being delivered is left where it is: only events nothing is getting to are copied forward. */
import { afterEach, describe, expect, it } from 'vitest'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { openLocalQueue } from '../../../src/backends/local/queue.ts'
import { parseThumbnail } from '../../../src/events/parse.ts'
import { silentLogger } from '../../../src/log.ts'
import { jpeg, signedThumbnail } from '../../support/hooks.ts'
import { tempDir } from '../../support/files.ts'
import { sleep } from '../../support/wait.ts'

const dir = tempDir('hookcast-backlog-')
afterEach(() => dir.remove())

describe('local queue maintenance during a backlog', () => {
  it('does not copy forward the events of a segment whose deliveries are progressing', async () => {
    const store = await openLocalQueue({
      dir: dir.path,
      fsync: false,
      maxBytes: 1 << 26,
      segmentBytes: 64 * 1024,
      cacheBytes: 1 << 20,
      log: silentLogger,
    })
    for (let i = 0; i < 24; i++) {
      const hook = await signedThumbnail({ body: jpeg(`backlog-${i}`, 20_000), timestamp: 1_700_000_000_000 + i })
      const event = await parseThumbnail(hook.body, new Headers(hook.headers), {
        source: 'millicast',
        receivedAt: Date.now(),
      })
      await store.put(event, ['disk'])
    }
    const newest = () => Math.max(...readdirSync(join(dir.path, 'segments')).map((name) => Number(name.slice(0, 10))))
    const before = newest()
    // One delivery every 150 ms: the backlog drains across several maintenance ticks (one a second).
    for (const claim of await store.claim({ max: 24, leaseMs: 60_000 })) {
      await store.load(claim)
      await store.ack(claim)
      await sleep(150)
    }
    // Delivered-state records are a few dozen bytes each: copying 20 KB events forward would fill new segments.
    expect(newest() - before).toBeLessThanOrEqual(1)
    expect((await store.stats()).pendingEvents).toBe(0)
    await store.close()
  }, 20_000)
})
