/**
 * Prometheus metrics in its text exposition format: counters and the accept-latency histogram kept here, gauges
 * read from the spool and the delivery lanes when scraped.
 * @module
 */
import type { HookRequest } from '../http/hook-request.ts'
import type { OutcomeReport } from '../delivery/deliver-one.ts'
import type { LaneStatus } from '../delivery/worker.ts'
import type { QueueStats } from '../queue/types.ts'
import { KNOWN_TYPES } from '../events/types.ts'

/**
 * The `kind` label's values: the kinds we know, `unknown` (refused before parsing) and `other`. A hook's type is
 * whatever the signed body says, so it is never a label value itself: each new value would be a new time series.
 */
const KIND_LABELS = new Set<string>([...KNOWN_TYPES, 'unknown'])
const kindLabel = (kind: string) => (KIND_LABELS.has(kind) ? kind : 'other')

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

export interface Metrics {
  request(request: HookRequest): void
  outcome(report: OutcomeReport): void
  /** A background step failed and will be retried (`component` is a fixed name from the code, never input). */
  backgroundFailure(component: string): void
  /** A bound on the stream state was hit (`limit` is a fixed name from the code, never input). */
  streamLimit(limit: string): void
  render(now: { spool: QueueStats; lanes: LaneStatus[] }): string
}

type Labels = Record<string, string>

class Counter {
  readonly values = new Map<string, { labels: Labels; value: number }>()

  add(labels: Labels, value = 1): void {
    const key = JSON.stringify(labels)
    const entry = this.values.get(key) ?? { labels, value: 0 }
    entry.value += value
    this.values.set(key, entry)
  }
}

export function createMetrics(): Metrics {
  const requests = new Counter()
  const signatureFailures = new Counter()
  const deliveries = new Counter()
  const retries = new Counter()
  const deadLettered = new Counter()
  const backgroundFailures = new Counter()
  const streamLimits = new Counter()
  const latencyBuckets = new Map<string, number[]>() // source -> cumulative counts per bucket
  const latencySum = new Map<string, number>()
  const latencyCount = new Map<string, number>()

  return {
    request(request) {
      requests.add({ source: request.source, kind: kindLabel(request.kind), status: String(request.status) })
      if (request.reason === 'bad_signature') signatureFailures.add({ source: request.source })
      if (request.status !== 200) return
      const buckets = latencyBuckets.get(request.source) ?? LATENCY_BUCKETS.map(() => 0)
      LATENCY_BUCKETS.forEach((bound, i) => {
        if (request.seconds <= bound) buckets[i]!++
      })
      latencyBuckets.set(request.source, buckets)
      latencySum.set(request.source, (latencySum.get(request.source) ?? 0) + request.seconds)
      latencyCount.set(request.source, (latencyCount.get(request.source) ?? 0) + 1)
    },
    outcome(report) {
      deliveries.add({ destination: report.destination, outcome: report.outcome })
      if (report.outcome === 'retry') retries.add({ destination: report.destination })
      if (report.outcome === 'dead') deadLettered.add({ destination: report.destination })
    },
    backgroundFailure(component) {
      backgroundFailures.add({ component })
    },
    streamLimit(limit) {
      streamLimits.add({ limit })
    },
    render({ spool, lanes }) {
      const out: string[] = []
      const family = (name: string, type: string, help: string) =>
        out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
      const counter = (name: string, help: string, c: Counter) => {
        family(name, 'counter', help)
        for (const { labels, value } of c.values.values()) out.push(`${name}${labelText(labels)} ${value}`)
      }
      const gauge = (name: string, help: string, value: number, labels: Labels = {}) => {
        family(name, 'gauge', help)
        out.push(`${name}${labelText(labels)} ${value}`)
      }
      counter('hookcast_requests_total', 'Webhook requests by source, hook kind and HTTP status.', requests)
      counter(
        'hookcast_signature_failures_total',
        'Webhook requests refused for a missing or wrong signature.',
        signatureFailures,
      )
      counter(
        'hookcast_deliveries_total',
        'Delivery attempts by destination and outcome (delivered, retry, dead).',
        deliveries,
      )
      counter('hookcast_retries_total', 'Failed delivery attempts that will be retried, by destination.', retries)
      counter('hookcast_dead_lettered_total', 'Deliveries moved to the dead letters, by destination.', deadLettered)
      counter(
        'hookcast_stream_limits_total',
        'Stream-state bounds hit: streams evicted, expired or not tracked, thumbnails not kept, ids too long, future times clamped; by limit.',
        streamLimits,
      )
      counter(
        'hookcast_background_failures_total',
        'Background steps that failed and will be retried (spool reads and writes, stream state), by component.',
        backgroundFailures,
      )
      gauge('hookcast_dead_letters', 'Dead letters waiting for a replay.', spool.deadLetters)
      gauge('hookcast_spool_pending_events', 'Accepted events with at least one delivery pending.', spool.pendingEvents)
      gauge(
        'hookcast_spool_pending_deliveries',
        'Deliveries pending (waiting, retrying or under way).',
        spool.pendingDeliveries,
      )
      gauge('hookcast_spool_bytes', 'Bytes the spool holds on disk.', spool.bytes)
      gauge(
        'hookcast_spool_oldest_pending_age_seconds',
        'Age of the oldest event with a pending delivery.',
        spool.oldestPendingAgeMs / 1000,
      )
      family(
        'hookcast_destination_circuit_open',
        'gauge',
        'Whether a destination is paused after failures in a row (1) or not (0).',
      )
      for (const lane of lanes)
        out.push(
          `hookcast_destination_circuit_open${labelText({ destination: lane.destination })} ${lane.circuit === 'closed' ? 0 : 1}`,
        )
      family('hookcast_accept_duration_seconds', 'histogram', 'Time from request to 200 for accepted webhooks.')
      for (const [source, buckets] of latencyBuckets) {
        for (const [i, bound] of LATENCY_BUCKETS.entries()) {
          out.push(`hookcast_accept_duration_seconds_bucket${labelText({ source, le: String(bound) })} ${buckets[i]}`)
        }
        out.push(
          `hookcast_accept_duration_seconds_bucket${labelText({ source, le: '+Inf' })} ${latencyCount.get(source)}`,
        )
        out.push(`hookcast_accept_duration_seconds_sum${labelText({ source })} ${latencySum.get(source)}`)
        out.push(`hookcast_accept_duration_seconds_count${labelText({ source })} ${latencyCount.get(source)}`)
      }
      return out.join('\n') + '\n'
    },
  }
}

function labelText(labels: Labels): string {
  const entries = Object.entries(labels)
  if (entries.length === 0) return ''
  return `{${entries.map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')}}`
}
