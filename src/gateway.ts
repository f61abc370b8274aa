/**
 * Wires a config into a running pipeline: verifiers -> app -> router -> outbox (spool, then deliverer) ->
 * destinations, with the stream tracker beside them. Runtime-neutral: adapters call `createGateway` and serve
 * its `fetch`.
 * @module
 */
import { join } from 'node:path'
import type { Hono } from 'hono'
import type { Config } from './config/schema.ts'
import { createApp } from './app.ts'
import { createVerifier } from './verify/verifier.ts'
import { compileRoutes, route } from './routing/router.ts'
import { createSink } from './sinks/registry.ts'
import { createNotifier, type NotifierDeps } from './notifiers/registry.ts'
import type { Destination } from './destinations/types.ts'
import type { HookEvent } from './events/types.ts'
import { openLocalSpool } from './spool/local-spool.ts'
import { createDeliverer, type OutcomeReport } from './delivery/deliverer.ts'
import { policyFromConfig } from './delivery/policy.ts'
import { createSpooledOutbox } from './outbox/spooled.ts'
import type { Outbox } from './outbox/types.ts'
import { openLocalStreamStore } from './streams/local-store.ts'
import { createStreamTracker, TRACKER_NAME } from './streams/tracker.ts'
import { LIFECYCLE_SOURCE } from './streams/lifecycle-event.ts'
import { createThumbnailLinks } from './streams/thumbnail-url.ts'
import { mountThumbnailLinks } from './streams/routes.ts'
import type { StreamStore } from './streams/types.ts'
import { silentLogger, type Logger } from './log.ts'
import { createMetrics, type Metrics } from './admin/metrics.ts'
import { createRecentEvents, type RecentEvents } from './admin/recent-events.ts'
import { adminRoutes } from './admin/routes.ts'
import { probeWritable } from './util/probe.ts'

export interface Gateway {
  app: Hono
  fetch(request: Request): Response | Promise<Response>
  outbox: Outbox
  streams: StreamStore
  destinations: ReadonlyMap<string, Destination>
  metrics: Metrics
  recent: RecentEvents
  /** Stops delivering (letting deliveries under way finish for at most `graceMs`) and releases everything. */
  close(graceMs?: number): Promise<void>
}

export interface GatewayOptions {
  log?: Logger
  now?: () => number
  /** Told of every delivery outcome (metrics). */
  onOutcome?: (report: OutcomeReport) => void
}

/** The configured sinks and notifiers, by name. */
export function createDestinations(config: Config, deps: Omit<NotifierDeps, 'destination'>): Map<string, Destination> {
  const destinations = new Map<string, Destination>()
  const notifierDeps: NotifierDeps = { ...deps, destination: (name) => destinations.get(name) }
  for (const [name, sink] of Object.entries(config.sinks)) destinations.set(name, createSink(name, sink, { log: deps.log, now: deps.now }))
  for (const [name, notifier] of Object.entries(config.notifiers)) destinations.set(name, createNotifier(name, notifier, notifierDeps))
  return destinations
}

export async function createGateway(config: Config, options: GatewayOptions = {}): Promise<Gateway> {
  const log = options.log ?? silentLogger
  const now = options.now ?? Date.now
  const streamsDir = config.streams.dir ?? join(config.spool.dir, 'streams')
  const metrics = createMetrics()
  const streamCounts = {
    onBackgroundFailure: (task: string) => metrics.backgroundFailure(`streams-${task}`),
    onLimit: (limit: string) => metrics.streamLimit(limit),
  }
  const streams = await openLocalStreamStore({
    dir: streamsDir, log, now, ...streamCounts,
    maxStreams: config.streams.maxStreams, keepEndedMs: config.streams.keepEnded, maxThumbnailBytes: config.streams.maxThumbnailBytes,
  })
  const links = await createThumbnailLinks(streamsDir, now)
  const destinations = createDestinations(config, { streams, thumbnailUrl: links.url, log, now })
  const sources = await Promise.all(Object.entries(config.sources).map(async ([name, source]) => ({
    name,
    path: source.path,
    verifier: await createVerifier(source.secrets),
  })))
  const routes = compileRoutes(config.routes)
  const recent = createRecentEvents(500, now)

  const store = await openLocalSpool({ ...config.spool, log, now })
  const tracker = createStreamTracker({
    store: streams,
    flapWindowMs: config.streams.flapWindow,
    emit: async (event) => { await hand(event) },
    log,
    now,
    ...streamCounts,
  })
  destinations.set(TRACKER_NAME, tracker)
  const deliverer = createDeliverer({
    store,
    destinations,
    policyFor: (name) => policyFromConfig(config.delivery, name),
    log,
    now,
    onOutcome(report) {
      metrics.outcome(report)
      recent.outcome(report)
      options.onOutcome?.(report)
    },
    onSpoolError: (step) => metrics.backgroundFailure(`spool-${step}`),
  })
  const outbox = createSpooledOutbox({ store, deliverer, dedupWindowMs: config.spool.dedupWindow, now })

  /** Routes an event and hands it to the outbox; the tracker sees every feed hook and thumbnail, whatever the routes. */
  async function hand(event: HookEvent) {
    const names = route(event, routes)
    if (names.length === 0) log.info('no route matched', { id: event.id, type: event.type, event: event.event })
    if (tracker.wants(event)) names.push(TRACKER_NAME)
    const result = names.length > 0 ? await outbox.accept(event, names) : { duplicate: false }
    // Shown on the page: every platform hook (an unrouted one too), and hookcast's own events that go somewhere.
    if (!result.duplicate && (names.length > 0 || event.source !== LIFECYCLE_SOURCE)) recent.accepted(event, names)
    return { ...result, destinations: names.length }
  }

  let closing = false
  const mountAdmin = await adminRoutes({
    adminToken: config.admin.token,
    metrics: config.metrics,
    outbox,
    streams,
    recent,
    meter: metrics,
    trustProxy: config.server.trustProxy,
    now,
    async readiness() {
      const problems: string[] = []
      if (closing) problems.push('shutting down')
      const spool = await probeWritable(config.spool.dir)
      if (spool) problems.push(`spool not writable: ${spool}`)
      return problems
    },
  })

  const app = createApp({
    sources,
    maxBodyBytes: config.server.maxBodyBytes,
    maxInFlightBytes: config.server.maxInFlightBytes,
    bodyTimeoutMs: config.server.bodyTimeout,
    log,
    now,
    accept: hand,
    observe: (request) => metrics.request(request),
    extend(routesOf) {
      mountThumbnailLinks(routesOf, streams, links)
      mountAdmin(routesOf)
    },
  })
  await tracker.start()

  return {
    app,
    fetch: (request) => app.fetch(request),
    outbox,
    streams,
    destinations,
    metrics,
    recent,
    async close(graceMs = 10_000) {
      closing = true
      await tracker.close?.()
      await outbox.close(graceMs)
      await Promise.all([...destinations.values()].map((d) => d.close?.()))
      await streams.close()
    },
  }
}
