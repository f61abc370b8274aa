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
  /** The tracker handed on a health event (`black`, `frozen`, `quiet`, `recovered`). */
  healthEvent(event: string): void
  /** The tracker looked at a thumbnail (`analysed`), or why not (`skipped_busy`, `undecodable`, ...). */
  pictureAnalysis(outcome: string): void
  render(now: { spool: QueueStats; lanes: LaneStatus[]; streams?: StreamsByHealth }): string
}

/** Live streams by the health of their picture (stream-health-gauge.ts). */
export type StreamsByHealth = Record<HealthState, number>
export type HealthState = (typeof HEALTH_STATES)[number]
export const HEALTH_STATES = ['ok', 'black', 'frozen', 'quiet', 'unknown'] as const

// Fixed names from the tracker, never input: anything else is `other`, so no label value can come from outside.
const HEALTH_EVENTS = new Set(['black', 'frozen', 'quiet', 'recovered'])
const ANALYSIS_OUTCOMES = new Set(['analysed', 'skipped_busy', 'skipped_stale', 'undecodable', 'unavailable'])
const known = (values: Set<string>, value: string) => (values.has(value) ? value : 'other')

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
  const counts: Counts = {
    requests: new Counter(),
    signatureFailures: new Counter(),
    deliveries: new Counter(),
    retries: new Counter(),
    deadLettered: new Counter(),
    backgroundFailures: new Counter(),
    streamLimits: new Counter(),
    healthEvents: new Counter(),
    pictureAnalyses: new Counter(),
    latency: new Map(),
  }
  return {
    request: (request) => countRequest(counts, request),
    outcome(report) {
      counts.deliveries.add({ destination: report.destination, outcome: report.outcome })
      if (report.outcome === 'retry') counts.retries.add({ destination: report.destination })
      if (report.outcome === 'dead') counts.deadLettered.add({ destination: report.destination })
    },
    backgroundFailure(component) {
      counts.backgroundFailures.add({ component })
    },
    streamLimit(limit) {
      counts.streamLimits.add({ limit })
    },
    healthEvent(event) {
      counts.healthEvents.add({ event: known(HEALTH_EVENTS, event) })
    },
    pictureAnalysis(outcome) {
      counts.pictureAnalyses.add({ outcome: known(ANALYSIS_OUTCOMES, outcome) })
    },
    render({ spool, lanes, streams }) {
      const out = new Exposition()
      renderCounters(out, counts)
      renderHealth(out, counts, streams)
      renderGauges(out, spool, lanes)
      renderLatency(out, counts.latency)
      return out.text()
    },
  }
}

/** What the metrics count between scrapes. */
interface Counts {
  requests: Counter
  signatureFailures: Counter
  deliveries: Counter
  retries: Counter
  deadLettered: Counter
  backgroundFailures: Counter
  streamLimits: Counter
  healthEvents: Counter
  pictureAnalyses: Counter
  /** Accept latency by source: cumulative counts per bucket, their sum and count. */
  latency: Map<string, { buckets: number[]; sum: number; count: number }>
}

function countRequest(counts: Counts, request: HookRequest): void {
  counts.requests.add({ source: request.source, kind: kindLabel(request.kind), status: String(request.status) })
  if (request.reason === 'bad_signature') counts.signatureFailures.add({ source: request.source })
  if (request.status !== 200) return
  let latency = counts.latency.get(request.source)
  if (!latency)
    counts.latency.set(request.source, (latency = { buckets: LATENCY_BUCKETS.map(() => 0), sum: 0, count: 0 }))
  LATENCY_BUCKETS.forEach((bound, i) => {
    if (request.seconds <= bound) latency.buckets[i]!++
  })
  latency.sum += request.seconds
  latency.count += 1
}

/** Lines of the text exposition format. */
class Exposition {
  readonly #lines: string[] = []

  family(name: string, type: string, help: string): void {
    this.#lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
  }

  sample(name: string, labels: Labels, value: number): void {
    this.#lines.push(`${name}${labelText(labels)} ${value}`)
  }

  counter(name: string, help: string, counter: Counter): void {
    this.family(name, 'counter', help)
    for (const { labels, value } of counter.values.values()) this.sample(name, labels, value)
  }

  gauge(name: string, help: string, value: number): void {
    this.family(name, 'gauge', help)
    this.sample(name, {}, value)
  }

  text(): string {
    return this.#lines.join('\n') + '\n'
  }
}

function renderCounters(out: Exposition, counts: Counts): void {
  out.counter('hookcast_requests_total', 'Webhook requests by source, hook kind and HTTP status.', counts.requests)
  out.counter(
    'hookcast_signature_failures_total',
    'Webhook requests refused for a missing or wrong signature.',
    counts.signatureFailures,
  )
  out.counter(
    'hookcast_deliveries_total',
    'Delivery attempts by destination and outcome (delivered, retry, dead).',
    counts.deliveries,
  )
  out.counter(
    'hookcast_retries_total',
    'Failed delivery attempts that will be retried, by destination.',
    counts.retries,
  )
  out.counter(
    'hookcast_dead_lettered_total',
    'Deliveries moved to the dead letters, by destination.',
    counts.deadLettered,
  )
  out.counter(
    'hookcast_stream_limits_total',
    'Stream-state bounds hit: streams evicted, expired or not tracked, thumbnails not kept, ids too long, ' +
      'future times clamped; by limit.',
    counts.streamLimits,
  )
  out.counter(
    'hookcast_background_failures_total',
    'Background steps that failed and will be retried (spool reads and writes, stream state), by component.',
    counts.backgroundFailures,
  )
}

function renderHealth(out: Exposition, counts: Counts, streams: StreamsByHealth | undefined): void {
  out.counter(
    'hookcast_stream_health_events_total',
    'Stream health events handed on: problems raised (black, frozen, quiet) and recoveries (recovered), by event.',
    counts.healthEvents,
  )
  out.counter(
    'hookcast_picture_analyses_total',
    'Thumbnails of live sessions looked at (analysed), or not: skipped_busy, skipped_stale, undecodable, ' +
      'unavailable; by outcome.',
    counts.pictureAnalyses,
  )
  if (!streams) return
  const name = 'hookcast_streams_by_health'
  out.family(name, 'gauge', 'Live streams by the health of their picture (unknown: not looked at yet).')
  for (const state of HEALTH_STATES) out.sample(name, { state }, streams[state])
}

/** The gauges, read from the spool and the delivery lanes at each scrape. */
function renderGauges(out: Exposition, spool: QueueStats, lanes: LaneStatus[]): void {
  out.gauge('hookcast_dead_letters', 'Dead letters waiting for a replay.', spool.deadLetters)
  out.gauge('hookcast_spool_pending_events', 'Accepted events with at least one delivery pending.', spool.pendingEvents)
  out.gauge(
    'hookcast_spool_pending_deliveries',
    'Deliveries pending (waiting, retrying or under way).',
    spool.pendingDeliveries,
  )
  out.gauge('hookcast_spool_bytes', 'Bytes the spool holds on disk.', spool.bytes)
  out.gauge(
    'hookcast_spool_oldest_pending_age_seconds',
    'Age of the oldest event with a pending delivery.',
    spool.oldestPendingAgeMs / 1000,
  )
  const circuit = 'hookcast_destination_circuit_open'
  out.family(circuit, 'gauge', 'Whether a destination is paused after failures in a row (1) or not (0).')
  for (const lane of lanes) out.sample(circuit, { destination: lane.destination }, lane.circuit === 'closed' ? 0 : 1)
}

function renderLatency(out: Exposition, latency: Counts['latency']): void {
  const name = 'hookcast_accept_duration_seconds'
  out.family(name, 'histogram', 'Time from request to 200 for accepted webhooks.')
  for (const [source, { buckets, sum, count }] of latency) {
    for (const [i, bound] of LATENCY_BUCKETS.entries())
      out.sample(`${name}_bucket`, { source, le: String(bound) }, buckets[i]!)
    out.sample(`${name}_bucket`, { source, le: '+Inf' }, count)
    out.sample(`${name}_sum`, { source }, sum)
    out.sample(`${name}_count`, { source }, count)
  }
}

function labelText(labels: Labels): string {
  const entries = Object.entries(labels)
  if (entries.length === 0) return ''
  return `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}
