/**
 * Wires a config into a running pipeline: verifiers -> app -> router -> outbox (spool, then deliverer) ->
 * destinations. Runtime-neutral: adapters call `createGateway` and serve its `fetch`.
 * @module
 */
import type { Hono } from 'hono'
import type { Config } from './config/schema.ts'
import { createApp } from './app.ts'
import { createVerifier } from './verify/verifier.ts'
import { compileRoutes, route } from './routing/router.ts'
import { createSink } from './sinks/registry.ts'
import { createNotifier } from './notifiers/registry.ts'
import type { Destination } from './destinations/types.ts'
import { openLocalSpool } from './spool/local-spool.ts'
import { createDeliverer, type OutcomeReport } from './delivery/deliverer.ts'
import { policyFromConfig } from './delivery/policy.ts'
import { createSpooledOutbox } from './outbox/spooled.ts'
import type { Outbox } from './outbox/types.ts'
import { silentLogger, type Logger } from './log.ts'

export interface Gateway {
  app: Hono
  fetch(request: Request): Response | Promise<Response>
  outbox: Outbox
  destinations: ReadonlyMap<string, Destination>
  /** Stops delivering (letting deliveries under way finish for at most `graceMs`) and releases everything. */
  close(graceMs?: number): Promise<void>
}

export interface GatewayOptions {
  log?: Logger
  now?: () => number
  /** Told of every delivery outcome (metrics). */
  onOutcome?: (report: OutcomeReport) => void
}

export function createDestinations(config: Config): Map<string, Destination> {
  const destinations = new Map<string, Destination>()
  for (const [name, sink] of Object.entries(config.sinks)) destinations.set(name, createSink(name, sink))
  for (const [name, notifier] of Object.entries(config.notifiers)) destinations.set(name, createNotifier(name, notifier))
  return destinations
}

export async function createGateway(config: Config, options: GatewayOptions = {}): Promise<Gateway> {
  const log = options.log ?? silentLogger
  const now = options.now ?? Date.now
  const destinations = createDestinations(config)
  const sources = await Promise.all(Object.entries(config.sources).map(async ([name, source]) => ({
    name,
    path: source.path,
    verifier: await createVerifier(source.secrets),
  })))

  const store = await openLocalSpool({ ...config.spool, log, now })
  const deliverer = createDeliverer({
    store,
    destinations,
    policyFor: (name) => policyFromConfig(config.delivery, name),
    log,
    now,
    ...(options.onOutcome ? { onOutcome: options.onOutcome } : {}),
  })
  const outbox = createSpooledOutbox({ store, deliverer, dedupWindowMs: config.spool.dedupWindow, now })
  const routes = compileRoutes(config.routes)

  const app = createApp({
    sources,
    maxBodyBytes: config.server.maxBodyBytes,
    log,
    now,
    async accept(event) {
      const names = route(event, routes)
      if (names.length === 0) log.info('no route matched; event dropped', { id: event.id, type: event.type, event: event.event })
      const result = names.length > 0 ? await outbox.accept(event, names) : { duplicate: false }
      return { ...result, destinations: names.length }
    },
  })

  return {
    app,
    fetch: (request) => app.fetch(request),
    outbox,
    destinations,
    async close(graceMs = 10_000) {
      await outbox.close(graceMs)
      await Promise.all([...destinations.values()].map((d) => d.close?.()))
    },
  }
}
