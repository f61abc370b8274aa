/**
 * Fills a spool directory with pending deliveries to the `disk` sink, as a destination outage would leave it, so a
 * gateway started on it drains a backlog. Written with the queue's own code, so the records are the real format.
 * @module
 */
import { join } from 'node:path'
import { openLocalQueue } from '../src/backends/local/queue.ts'
import { parseThumbnail } from '../src/events/parse.ts'
import { silentLogger } from '../src/log.ts'
import { bodyFactory } from './bodies.ts'

/** Appends `count` distinct thumbnails of `size` bytes (sequence numbers 1..count) to `dir/spool`; returns them. */
export async function fillSpool(dir: string, count: number, size: number): Promise<number[]> {
  const spool = await openLocalQueue({
    dir: join(dir, 'spool'),
    fsync: false,
    maxBytes: 64 * 1024 ** 3,
    segmentBytes: 64 * 1024 ** 2,
    cacheBytes: 0,
    log: silentLogger,
  })
  const factory = bodyFactory({ kind: 'thumbnail', size })
  const seqs: number[] = []
  const BATCH = 64
  for (let start = 1; start <= count; start += BATCH) {
    const batch: Promise<unknown>[] = []
    for (let seq = start; seq < start + BATCH && seq <= count; seq++) {
      const built = factory.request(seq)
      const event = await parseThumbnail(new Uint8Array(Buffer.from(built.body)), new Headers(built.headers), {
        source: 'millicast',
        receivedAt: Date.now(),
      })
      batch.push(spool.put(event, ['disk']))
      seqs.push(seq)
    }
    await Promise.all(batch)
  }
  await spool.close()
  return seqs
}
