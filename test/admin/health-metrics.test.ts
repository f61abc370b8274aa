/**
 * The stream health metrics: health events and picture analyses counted by their fixed names, and the gauge of live
 * streams by health state read from a stream store (every state present, records without health as `unknown`,
 * a listing at most once per interval).
 */
import { describe, expect, it } from 'vitest'
import { createMetrics } from '../../src/admin/metrics.ts'
import { streamsByHealth } from '../../src/admin/stream-health-gauge.ts'
import { memoryStreamStore } from '../../src/streams/memory-stream-store.ts'
import { freshRecord } from '../../src/streams/stream-record.ts'
import type { StreamHealth, StreamRecord } from '../../src/streams/stream-types.ts'
import type { QueueStats } from '../../src/queue/types.ts'

const spool: QueueStats = {
  deadLetters: 0,
  pendingEvents: 0,
  pendingDeliveries: 0,
  bytes: 0,
  oldestPendingAgeMs: 0,
  destinations: {},
}

function record(id: string, status: StreamRecord['status'], state?: StreamHealth['state'], session = 's1') {
  const r = freshRecord(`A/${id}`, 1)
  r.status = status
  r.session = 's1'
  if (state) r.health = { session, state, open: {}, seq: 0, outbox: [], shown: [] }
  return r
}

describe('stream health metrics', () => {
  it('counts health events and analysis outcomes; a name the code does not use is `other`', () => {
    const metrics = createMetrics()
    for (const event of ['black', 'black', 'quiet', 'recovered', '<script>']) metrics.healthEvent(event)
    for (const outcome of ['analysed', 'analysed', 'skipped_busy', 'undecodable']) metrics.pictureAnalysis(outcome)
    const lines = metrics.render({ spool, lanes: [] }).split('\n')
    expect(lines).toContain('# TYPE hookcast_stream_health_events_total counter')
    expect(lines).toContain('hookcast_stream_health_events_total{event="black"} 2')
    expect(lines).toContain('hookcast_stream_health_events_total{event="quiet"} 1')
    expect(lines).toContain('hookcast_stream_health_events_total{event="recovered"} 1')
    expect(lines).toContain('hookcast_stream_health_events_total{event="other"} 1')
    expect(lines).toContain('hookcast_picture_analyses_total{outcome="analysed"} 2')
    expect(lines).toContain('hookcast_picture_analyses_total{outcome="skipped_busy"} 1')
    expect(lines).toContain('hookcast_picture_analyses_total{outcome="undecodable"} 1')
    expect(lines.some((l) => l.startsWith('hookcast_streams_by_health'))).toBe(false) // not given: not rendered
  })

  it('gauges live streams by health state from the store, listing it at most once per interval', async () => {
    const store = memoryStreamStore()
    const records = [
      record('dark', 'live', 'black'),
      record('dark2', 'ending', 'black'),
      record('fine', 'live', 'ok'),
      record('old-health', 'live', 'frozen', 'an earlier session'), // not this session's: unknown
      record('no-health', 'live'),
      record('gone', 'ended', 'black'), // ended: not counted
    ]
    for (const r of records) expect(await store.put(r.streamId, r, null)).not.toBe('conflict')
    let now = 0
    let listings = 0
    const counted = {
      ...store,
      list: () => {
        listings++
        return store.list()
      },
    }
    const gauge = streamsByHealth(counted, () => now, 10_000)
    const counts = await gauge()
    expect(counts).toEqual({ ok: 1, black: 2, frozen: 0, quiet: 0, unknown: 2 })
    const lines = createMetrics().render({ spool, lanes: [], streams: counts }).split('\n')
    expect(lines).toContain('# TYPE hookcast_streams_by_health gauge')
    expect(lines).toContain('hookcast_streams_by_health{state="black"} 2')
    expect(lines).toContain('hookcast_streams_by_health{state="frozen"} 0')

    await store.delete('A/dark')
    now = 9_999
    expect((await gauge()).black).toBe(2) // within the interval: the last count
    now = 10_000
    expect((await gauge()).black).toBe(1)
    expect(listings).toBe(2)
  })
})
