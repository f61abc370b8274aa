/**
 * Wires a config into a running pipeline: verifiers -> app -> router -> outbox -> destinations.
 * Runtime-neutral: adapters call `createGateway` and serve its `fetch`.
 * @module
 */
import type { Hono } from 'hono'
import type { Config } from './config/schema.ts'
import { createApp } from './app.ts'
import { createVerifier } from './verify/verifier.ts'
import { compileRoutes, route } from './routing/router.ts'
import { createSink } from './sinks/registry.ts'
import type { Destination } from './destinations/types.ts'
import { createInlineOutbox } from './outbox/inline.ts'
import type { Outbox } from './outbox/types.ts'
import { silentLogger, type Logger } from './log.ts'

export interface Gateway {
  app: Hono
  fetch(request: Request): Response | Promise<Response>
  /** Stops delivering and releases destinations; the adapter stops the HTTP server first. */
  close(): Promise<void>
}

export interface GatewayOptions {
  log?: Logger
  now?: () => number
}

export async function createGateway(config: Config, options: GatewayOptions = {}): Promise<Gateway> {
  const log = options.log ?? silentLogger
  const destinations = new Map<string, Destination>()
  for (const [name, sink] of Object.entries(config.sinks)) destinations.set(name, createSink(name, sink))

  const outbox: Outbox = createInlineOutbox(destinations, log)
  const routes = compileRoutes(config.routes)
  const sources = await Promise.all(Object.entries(config.sources).map(async ([name, source]) => ({
    name,
    path: source.path,
    verifier: await createVerifier(source.secrets),
  })))

  const app = createApp({
    sources,
    maxBodyBytes: config.server.maxBodyBytes,
    log,
    ...(options.now ? { now: options.now } : {}),
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
    async close() {
      await outbox.close()
      await Promise.all([...destinations.values()].map((d) => d.close?.()))
    },
  }
}
