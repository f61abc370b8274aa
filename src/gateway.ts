/**
 * Wires a config into a running pipeline, one direction: app -> ingest (verify, parse, route, put) -> queue <-
 * worker -> destinations (sinks, notifiers, and the stream tracker, whose lifecycle events go back in through
 * ingest's put). Runtime-neutral: adapters call `createGateway` and serve its `fetch`.
 * @module
 */
import type { Hono } from 'hono'
import type { Config } from './config/config-schema.ts'
import { createApp } from './app.ts'
import type { Bindings } from './http/bindings.ts'
import { createIngest, type Ingest, type Source } from './ingest.ts'
import { createVerifier } from './verify/verifier.ts'
import { compileRoutes } from './routing/router.ts'
import { createSink } from './sinks/registry.ts'
import { createNotifier, type NotifierDeps } from './notifiers/registry.ts'
import type { Destination } from './destinations/types.ts'
import { openBackend } from './backends/registry.ts'
import type { Backend } from './backends/types.ts'
import type { Queue } from './queue/types.ts'
import { startWorker, type Worker, type WorkerOptions } from './delivery/worker.ts'
import type { OutcomeReport } from './delivery/deliver-one.ts'
import { policyFromConfig } from './delivery/policy.ts'
import { createStreamTracker, TRACKER_NAME, type StreamTracker } from './streams/tracker.ts'
import { HOOKCAST_SOURCE } from './streams/transition-event.ts'
import { createThumbnailLinks } from './streams/thumbnail-links.ts'
import { mountThumbnailLinks } from './streams/thumbnail-routes.ts'
import type { StreamStore } from './streams/stream-store.ts'
import { silentLogger, type Logger } from './log.ts'
import { createMetrics, type Metrics } from './admin/metrics.ts'
import type { RecentEvents } from './activity/recent-events.ts'
import type { HookEvent } from './events/types.ts'
import { adminRoutes } from './admin/routes.ts'
import type { SignInLinks } from './admin/sign-in-link.ts'

export interface Gateway {
  app: Hono
  fetch(request: Request, bindings?: Bindings): Response | Promise<Response>
  queue: Queue
  worker: Worker
  streams: StreamStore
  destinations: ReadonlyMap<string, Destination>
  metrics: Metrics
  recent: RecentEvents
  /** Where the backend keeps things (the log says it at start). */
  where: string
  /**
   * Schedules a check of every stream left with a transition due or a flap window open (the tracker's `start`,
   * which reads every record): done at start, unless `recoverStreamsAtStart` is false.
   */
  recoverStreams(): Promise<void>
  /**
   * Stops delivering (deliveries under way get at most `graceMs`, default `server.shutdownGrace`, to finish) and
   * releases everything.
   */
  close(graceMs?: number): Promise<void>
}

export interface GatewayOptions {
  log?: Logger
  now?: () => number
  /** Told of every delivery outcome (metrics). */
  onOutcome?: (report: OutcomeReport) => void
  /** Told of every event put in the queue, with its destinations (a serverless handler delivers them itself). */
  onAccepted?: (event: HookEvent, destinations: readonly string[]) => void
  /**
   * Makes the deliveries instead of the background worker (`startWorker`): a serverless handler, frozen between
   * requests, makes them on demand.
   */
  worker?: (options: WorkerOptions) => Worker
  /**
   * One-time sign-in links to the page when the config has no `admin.token`: a server passes them and prints the
   * links; without them (a serverless function, tests, library use) the page is off.
   */
  signInLinks?: SignInLinks
  /**
   * Whether the gateway looks for streams left mid-transition when it starts (default true). A serverless function
   * starts at every cold start, where reading every record would delay the first answer: it calls `recoverStreams`
   * from its scheduled run instead.
   */
  recoverStreamsAtStart?: boolean
}

/** The configured sinks and notifiers, by name. */
export function createDestinations(config: Config, deps: Omit<NotifierDeps, 'destination'>): Map<string, Destination> {
  const destinations = new Map<string, Destination>()
  const notifierDeps: NotifierDeps = { ...deps, destination: (name) => destinations.get(name) }
  for (const [name, sink] of Object.entries(config.sinks))
    destinations.set(name, createSink(name, sink, { log: deps.log, now: deps.now }))
  for (const [name, notifier] of Object.entries(config.notifiers))
    destinations.set(name, createNotifier(name, notifier, notifierDeps))
  return destinations
}

export async function createGateway(config: Config, options: GatewayOptions = {}): Promise<Gateway> {
  const log = options.log ?? silentLogger
  const now = options.now ?? Date.now
  const metrics = createMetrics()
  const backend = await openBackend(config, { log, now, ...streamCounts(metrics) })
  const links = await createThumbnailLinks(backend.signingKey, now)
  const { queue, streams } = backend
  const destinations = createDestinations(config, { streams, thumbnailUrl: links.url, log, now })
  const sources = await sourcesOf(config)
  const ctx: GatewayContext = { config, options, log, now, metrics, backend, destinations, closing: false }

  let ingest: Ingest | undefined
  const tracker = trackerFor(ctx, async (event) => {
    await ingest!.put(event)
  })
  destinations.set(TRACKER_NAME, tracker)
  ingest = ingestFor(ctx, tracker)
  const worker = workerFor(ctx)
  const mountAdmin = await adminFor(ctx, worker)
  const app = createApp({
    sources,
    ingest,
    extend(routesOf) {
      mountThumbnailLinks(routesOf, streams, links)
      mountAdmin(routesOf)
    },
  })
  if (options.recoverStreamsAtStart !== false) await tracker.start()

  return {
    app,
    fetch: (request, bindings = {}) => app.fetch(request, bindings),
    queue,
    worker,
    streams,
    destinations,
    metrics,
    recent: backend.recent,
    where: backend.where,
    recoverStreams: () => tracker.start(),
    async close(graceMs = config.server.shutdownGrace) {
      ctx.closing = true
      await tracker.close?.()
      await worker.close(graceMs)
      await Promise.all([...destinations.values()].map((d) => d.close?.()))
      await backend.close()
    },
  }
}

/** What the wiring steps share. */
interface GatewayContext {
  config: Config
  options: GatewayOptions
  log: Logger
  now: () => number
  metrics: Metrics
  backend: Backend
  destinations: Map<string, Destination>
  /** Set by `close`: readiness says so from then on. */
  closing: boolean
}

async function sourcesOf(config: Config): Promise<Source[]> {
  return Promise.all(
    Object.entries(config.sources).map(async ([name, source]) => ({
      name,
      path: source.path,
      verifier: await createVerifier(source.secrets),
    })),
  )
}

/** The stream state's background failures and bounds hit, counted in the metrics. */
function streamCounts(metrics: Metrics) {
  return {
    onBackgroundFailure: (task: string) => metrics.backgroundFailure(`streams-${task}`),
    onLimit: (limit: string) => metrics.streamLimit(limit),
  }
}

/** The tracker: one more destination; the lifecycle events it makes go back in through `emit` (ingest's put). */
function trackerFor(ctx: GatewayContext, emit: (event: HookEvent) => Promise<void>): StreamTracker {
  const { queue, streams } = ctx.backend
  return createStreamTracker({
    store: streams,
    flapWindowMs: ctx.config.streams.flapWindow,
    emit,
    // Flap windows are delayed work in the queue: they survive a restart, and any worker may end them.
    scheduleCheck: async (check, at) => {
      await queue.put(check, [TRACKER_NAME], { notBefore: at })
    },
    log: ctx.log,
    now: ctx.now,
    ...streamCounts(ctx.metrics),
  })
}

function ingestFor(ctx: GatewayContext, tracker: StreamTracker): Ingest {
  const { config, backend } = ctx
  return createIngest({
    queue: backend.queue,
    routes: compileRoutes(config.routes),
    // The tracker sees every feed hook and thumbnail, whatever the routes.
    internal: (event) => (tracker.wants(event) ? [TRACKER_NAME] : []),
    maxBodyBytes: config.server.maxBodyBytes,
    maxInFlightBytes: config.server.maxInFlightBytes,
    trustProxy: config.server.trustProxy,
    bodyTimeoutMs: config.server.bodyTimeout,
    log: ctx.log,
    now: ctx.now,
    // Shown on the page: every platform hook (an unrouted one too), and hookcast's own events that go somewhere.
    onAccepted: (event, names) => {
      if (names.length > 0 || event.source !== HOOKCAST_SOURCE) backend.recent.accepted(event, names)
      if (names.length > 0) ctx.options.onAccepted?.(event, names)
    },
    observe: (request) => ctx.metrics.request(request),
  })
}

function workerFor(ctx: GatewayContext): Worker {
  const { config, destinations, metrics } = ctx
  return (ctx.options.worker ?? startWorker)({
    queue: ctx.backend.queue,
    destinations,
    policyFor: (name) => policyFromConfig(config.delivery, name, destinations.get(name)?.concurrency),
    log: ctx.log,
    now: ctx.now,
    onOutcome(report) {
      metrics.outcome(report)
      ctx.backend.recent.outcome(report)
      ctx.options.onOutcome?.(report)
    },
    onQueueError: (step) => metrics.backgroundFailure(`spool-${step}`),
  })
}

function adminFor(ctx: GatewayContext, worker: Worker): Promise<(app: Hono) => void> {
  const { config, backend } = ctx
  return adminRoutes({
    adminToken: config.admin.enabled ? config.admin.token : undefined,
    ...(config.admin.enabled && ctx.options.signInLinks ? { signInLinks: ctx.options.signInLinks } : {}),
    metrics: config.metrics,
    queue: backend.queue,
    worker,
    streams: backend.streams,
    recent: backend.recent,
    meter: ctx.metrics,
    trustProxy: config.server.trustProxy,
    now: ctx.now,
    async readiness() {
      const problems: string[] = []
      if (ctx.closing) problems.push('shutting down')
      problems.push(...(await backend.problems()))
      return problems
    },
  })
}
