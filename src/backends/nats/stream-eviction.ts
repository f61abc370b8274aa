/**
 * Forgetting ended streams in the NATS stream store, without a lock shared by the instances: `evict` makes room when
 * the bucket's `max_msgs` (`maxStreams`, enforced by the server) refuses a new stream, and `sweep` forgets ended
 * streams `keepEndedMs` after their last change. A live stream is never evicted, and every delete is a
 * compare-and-delete, so instances racing with writers forget nothing live (though each may evict a batch).
 * @module
 */
import type { KV } from '@nats-io/kv'
import type { Logger } from '../../log.ts'
import { streamKey } from '../../streams/stream-key.ts'
import type { NatsThumbnails } from './thumbnails.ts'
import type { StoreReport } from '../../streams/store-report.ts'
import { FRUITLESS_MS, endedFirst, type StreamRecords } from './stream-records.ts'

/** Thumbnails of a stream with no record are left alone this long (its record may be on its way). */
const LOOSE_GRACE_MS = 60_000

export interface Eviction {
  /** Evicts a batch of ended streams (never `except`) to make room for new ones; resolves how many went. */
  evict(except: string): Promise<number>
  /** Forgets ended streams past `keepEndedMs`, and thumbnails of streams with no record; resolves how many streams. */
  sweep(): Promise<number>
}

interface EvictionOptions {
  records: StreamRecords
  /** The records' bucket, to look whether a loose thumbnail's stream has a record after all. */
  kv: KV
  thumbs: NatsThumbnails
  report: StoreReport
  log: Logger
  now: () => number
  maxStreams: number
  keepEndedMs: number
}

export function streamEviction({
  records,
  kv,
  thumbs,
  report,
  log,
  now,
  maxStreams,
  keepEndedMs,
}: EvictionOptions): Eviction {
  let fruitlessUntil = 0

  return {
    async evict(except) {
      if (Date.now() < fruitlessUntil) return 0
      const batch = Math.min(64, Math.max(1, Math.ceil(maxStreams / 100)))
      let evicted = 0
      for (const stored of endedFirst(await records.scan())) {
        const { record } = stored
        if (evicted >= batch) break
        if (record.streamId === except || !(await records.deleteAt(stored))) continue
        log.info('stream state full: forgetting an ended stream', { stream: record.streamId, maxStreams })
        report.limit('stream_evicted')
        evicted++
      }
      if (evicted === 0) fruitlessUntil = Date.now() + FRUITLESS_MS
      return evicted
    },

    async sweep() {
      const cutoff = now() - keepEndedMs
      const all = await records.scan()
      let expired = 0
      for (const stored of endedFirst(all)) {
        if (stored.record.updatedAt >= cutoff || !(await records.deleteAt(stored))) continue
        report.limit('stream_expired')
        expired++
      }
      // Thumbnails whose stream has no record: refused, forgotten while one was being written, or a crash between.
      const known = new Set(all.map(({ record }) => streamKey(record.streamId)))
      for (const key of await thumbs.streams()) {
        if (known.has(key) || (await kv.get(key))?.operation === 'PUT') continue
        await thumbs.removeStoredBefore(key, Date.now() - LOOSE_GRACE_MS) // the server's clock, not the records'
      }
      if (expired > 0) log.info('forgot ended streams past streams.keepEnded', { streams: expired })
      return expired
    },
  }
}
