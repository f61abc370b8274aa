/**
 * The gauge of live streams by picture health, read from the stream store. On NATS or S3 a listing reads every
 * record, so a scrape uses the count of the last `everyMs` rather than listing again (scrapers poll every 15 s or so).
 * @module
 */
import type { StreamStore } from '../streams/stream-store.ts'
import { HEALTH_STATES, type StreamsByHealth } from './metrics.ts'
import { healthStateOf } from './stream-view.ts'

export function streamsByHealth(store: StreamStore, now: () => number, everyMs = 10_000) {
  let last: { at: number; counts: Promise<StreamsByHealth> } | undefined
  return (): Promise<StreamsByHealth> => {
    if (!last || now() - last.at >= everyMs) {
      const counts = countStreams(store)
      last = { at: now(), counts }
      counts.catch(() => {
        if (last?.counts === counts) last = undefined // a failed listing is not kept
      })
    }
    return last.counts
  }
}

async function countStreams(store: StreamStore): Promise<StreamsByHealth> {
  const counts = Object.fromEntries(HEALTH_STATES.map((state) => [state, 0])) as StreamsByHealth
  for (const record of await store.list()) if (record.status !== 'ended') counts[healthStateOf(record)]++
  return counts
}
