/**
 * The metrics' text exposition, rendered directly: what a scrape of /metrics reads, line by line.
 */
import { describe, expect, it } from 'vitest'
import { createMetrics } from '../../src/admin/metrics.ts'
import type { QueueStats } from '../../src/queue/types.ts'
import type { LaneStatus } from '../../src/delivery/worker.ts'
import type { OutcomeReport } from '../../src/delivery/deliver-one.ts'

const spool: QueueStats = {
  deadLetters: 2,
  pendingEvents: 3,
  pendingDeliveries: 4,
  bytes: 5,
  oldestPendingAgeMs: 1500,
  destinations: {},
}
const lanes: LaneStatus[] = [
  { destination: 'disk', kind: 'sink', inFlight: 0, circuit: 'closed' },
  { destination: 'hook', kind: 'notifier', inFlight: 0, circuit: 'open' },
]
const report = (destination: string, outcome: OutcomeReport['outcome']): OutcomeReport => ({
  destination,
  eventId: 'e1',
  outcome,
  attempt: 1,
  ms: 1,
})

describe('metrics exposition', () => {
  it('counts per histogram bucket cumulatively, and ends each source with +Inf, sum and count', () => {
    const metrics = createMetrics()
    for (const seconds of [0.002, 0.02, 7]) {
      metrics.request({ source: 'millicast', kind: 'feeds', status: 200, reason: 'accepted', seconds })
    }
    metrics.request({ source: 'millicast', kind: 'unknown', status: 401, reason: 'bad_signature', seconds: 0.001 })
    const lines = metrics.render({ spool, lanes }).split('\n')
    const bucket = (le: string) =>
      lines.find((l) => l.startsWith(`hookcast_accept_duration_seconds_bucket{source="millicast",le="${le}"}`))
    expect(bucket('0.001')).toMatch(/ 0$/)
    expect(bucket('0.0025')).toMatch(/ 1$/)
    expect(bucket('0.025')).toMatch(/ 2$/)
    expect(bucket('5')).toMatch(/ 2$/)
    expect(bucket('+Inf')).toMatch(/ 3$/)
    expect(lines).toContain('hookcast_accept_duration_seconds_sum{source="millicast"} 7.022')
    expect(lines).toContain('hookcast_accept_duration_seconds_count{source="millicast"} 3')
    expect(lines).toContain('# TYPE hookcast_accept_duration_seconds histogram')
    expect(lines).toContain('hookcast_signature_failures_total{source="millicast"} 1')
    expect(lines.at(-1)).toBe('') // the text ends with a newline
  })

  it('renders the gauges from the spool and one circuit sample per lane', () => {
    const lines = createMetrics().render({ spool, lanes }).split('\n')
    expect(lines).toContain('# TYPE hookcast_dead_letters gauge')
    expect(lines).toContain('hookcast_dead_letters 2')
    expect(lines).toContain('hookcast_spool_pending_events 3')
    expect(lines).toContain('hookcast_spool_pending_deliveries 4')
    expect(lines).toContain('hookcast_spool_bytes 5')
    expect(lines).toContain('hookcast_spool_oldest_pending_age_seconds 1.5')
    expect(lines).toContain('hookcast_destination_circuit_open{destination="disk"} 0')
    expect(lines).toContain('hookcast_destination_circuit_open{destination="hook"} 1')
  })

  it('counts outcomes, retries and dead letters by destination', () => {
    const metrics = createMetrics()
    metrics.outcome(report('hook', 'retry'))
    metrics.outcome(report('hook', 'retry'))
    metrics.outcome(report('hook', 'dead'))
    metrics.backgroundFailure('spool-claim')
    metrics.streamLimit('streams_full')
    const lines = metrics.render({ spool, lanes }).split('\n')
    expect(lines).toContain('hookcast_deliveries_total{destination="hook",outcome="retry"} 2')
    expect(lines).toContain('hookcast_retries_total{destination="hook"} 2')
    expect(lines).toContain('hookcast_dead_lettered_total{destination="hook"} 1')
    expect(lines).toContain('hookcast_background_failures_total{component="spool-claim"} 1')
    expect(lines).toContain('hookcast_stream_limits_total{limit="streams_full"} 1')
  })

  it('escapes backslashes, quotes and newlines in label values', () => {
    const metrics = createMetrics()
    metrics.request({ source: 'a\\b"c\nd', kind: 'feeds', status: 400, reason: 'malformed_json', seconds: 0 })
    const text = metrics.render({ spool, lanes })
    expect(text).toContain('hookcast_requests_total{source="a\\\\b\\"c\\nd",kind="feeds",status="400"} 1')
  })
})
