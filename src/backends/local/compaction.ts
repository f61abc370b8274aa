/**
 * Keeps the local queue's segment log small: segments nothing refers to any more are deleted, oldest first, and
 * the few events still pending in the oldest segment are copied forward so it can go. A backlog being delivered
 * is left alone, not rewritten.
 * @module
 */
import type { EventIndex, StoredEvent } from './event-index.ts'
import type { SegmentLog } from './segment-log.ts'

/**
 * A segment whose few remaining events hold it back (at most this many, none of them delivered since the last
 * maintenance) is emptied by copying them forward.
 */
const FORWARD_AT_MOST = 1024

export interface Compaction {
  /** Deletes segments nothing refers to any more, oldest first (a newer segment may hold state of older events). */
  dropResolved(): Promise<void>
  /** Copies the stragglers of the oldest segment forward, once it has not shrunk since the last call. */
  forwardStragglers(closed: () => boolean): Promise<void>
}

export function createCompaction(
  log: SegmentLog,
  index: EventIndex,
  rewrite: (stored: StoredEvent, body: Uint8Array) => Promise<void>,
): Compaction {
  let lastOldest: { segment: number; count: number } | undefined
  return {
    async dropResolved() {
      for (const segment of log.segments()) {
        if (segment === log.current() || (index.live.get(segment) ?? 0) > 0) return
        index.live.delete(segment)
        await log.deleteSegment(segment)
      }
    },
    async forwardStragglers(closed) {
      const oldest = log.segments()[0]
      if (oldest === undefined || oldest === log.current()) return
      const count = index.live.get(oldest) ?? 0
      const stuck = lastOldest?.segment === oldest && count >= lastOldest.count
      lastOldest = { segment: oldest, count }
      if (count === 0 || count > FORWARD_AT_MOST || !stuck) return
      for (const stored of [...index.events.values()].filter((e) => e.segment === oldest && e.busy.size === 0)) {
        if (closed()) return
        const body = await index.bodyOf(stored).catch(() => undefined)
        // Delivered meanwhile (wholly, or moved on by another copy): nothing to carry forward.
        if (
          !body ||
          stored.segment !== oldest ||
          index.events.get(stored.meta.id) !== stored ||
          stored.pending.size === 0
        )
          continue
        const copy = rewrite(stored, body)
        stored.copying = copy.catch(() => {})
        try {
          await copy
        } finally {
          stored.copying = undefined
        }
      }
    },
  }
}
