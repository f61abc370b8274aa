/**
 * The Hono app: a check of the path as sent, then one POST route per configured source (handed to ingest), health,
 * the routes mounted by the operator side, and the one place errors become responses.
 * @module
 */
import { Hono } from 'hono'
import { HttpError, httpErrorOf } from './http/errors.ts'
import { bindingsOf } from './http/bindings.ts'
import { assertPlainPath } from './http/plain-path.ts'
import type { Ingest, Source } from './ingest.ts'
import type { Logger } from './log.ts'
import { errorText } from './util/error-text.ts'

interface AppOptions {
  sources: readonly Source[]
  ingest: Ingest
  /** Mounts more routes (stream thumbnails, admin API) before the not-found handler. */
  extend?: (app: Hono) => void
  /** Where an unexpected error is told (the 500's body points there). */
  log?: Logger
}

export function createApp(options: AppOptions): Hono {
  const app = new Hono()

  // Before routing: a path with dot segments would be routed as resolved, not as sent.
  app.use(async (c, next) => {
    assertPlainPath(bindingsOf(c.env).rawPath ?? c.req.raw.url)
    await next()
  })
  app.get('/healthz', (c) => c.json({ ok: true }))

  for (const source of options.sources) {
    app.post(source.path, async (c) => {
      const { event, duplicate } = await options.ingest.hook(source, c.req.raw, bindingsOf(c.env))
      return c.json({ ok: true, id: event.id, type: event.type, event: event.event, duplicate })
    })
    app.all(source.path, () => {
      throw new HttpError(405, 'method_not_allowed', 'webhooks are POSTed', { allow: 'POST' })
    })
  }

  options.extend?.(app)

  app.notFound(() => new HttpError(404, 'not_found', 'no such path').toResponse())
  app.onError((error, c) => {
    const known = httpErrorOf(error)
    if (known) return known.toResponse()
    // The path without its query: a signed link's query holds its signature.
    options.log?.error('unexpected error answering a request', {
      method: c.req.method,
      path: new URL(c.req.url).pathname,
      error: errorText(error),
    })
    return new HttpError(500, 'internal_error', 'unexpected error; see the server log').toResponse()
  })
  return app
}
