/**
 * The Hono app: one POST route per configured source, health, and the one place errors become responses.
 *
 * Request flow per hook: content type (415) -> a well-formed signature header (401, before a byte of the body is
 * read) -> declared length (413) -> room among the bytes in flight (503) -> bounded body read (413, 503, 408
 * past `bodyTimeout`) -> signature (401) -> parse (400) -> route -> outbox (503 when it cannot take the event) ->
 * 200.
 * @module
 */
import { Hono } from 'hono'
import { HttpError, httpErrorOf } from './http/errors.ts'
import { InFlightBytes, readBodyLimited } from './http/read-body.ts'
import { bodyHash, hookContentType, parseJsonHook, parseThumbnail } from './events/parse.ts'
import type { HookEvent } from './events/types.ts'
import { parseSignature, SIGNATURE_HEADER, WebhookVerificationError, type Verifier } from './verify/verifier.ts'
import { OutboxFullError, type AcceptResult } from './outbox/types.ts'
import type { Logger } from './log.ts'

export interface AppSource {
  name: string
  path: string
  verifier: Verifier
}

export interface AppOptions {
  sources: readonly AppSource[]
  maxBodyBytes: number
  /** Body bytes all requests may hold at once (`server.maxInFlightBytes`); 4 x `maxBodyBytes` when not given. */
  maxInFlightBytes?: number
  /** A body must arrive whole within this many ms (`server.bodyTimeout`), else 408; 0 = no deadline. */
  bodyTimeoutMs?: number
  /** Routes the event and hands it to the outbox; resolves once it is safe to answer 200. */
  accept(event: HookEvent): Promise<AcceptResult & { destinations: number }>
  log: Logger
  now?: () => number
  /** Mounts more routes (stream thumbnails, admin API) before the not-found handler. */
  extend?: (app: Hono) => void
  /** Told of every webhook request's outcome (metrics). */
  observe?: (request: HookRequest) => void
}

/** One webhook request, as metrics see it. */
export interface HookRequest {
  source: string
  /** The hook kind once known (`unknown` when refused before parsing). */
  kind: string
  status: number
  reason: string
  seconds: number
}

export function createApp(options: AppOptions): Hono {
  const { log, maxBodyBytes } = options
  const now = options.now ?? Date.now
  const inFlight = new InFlightBytes(options.maxInFlightBytes ?? 4 * maxBodyBytes)
  const bodyTimeoutMs = options.bodyTimeoutMs ?? 30_000
  const app = new Hono()

  app.get('/healthz', (c) => c.json({ ok: true }))

  for (const source of options.sources) {
    app.post(source.path, async (c) => {
      const started = performance.now()
      const request = c.req.raw
      const fields: Record<string, unknown> = { source: source.name, path: source.path }
      const lease = inFlight.lease()
      try {
        const contentType = hookContentType(request.headers.get('content-type'))
        if (!contentType) {
          throw new HttpError(415, 'unsupported_content_type', 'expected application/json or image/jpeg')
        }
        // Anyone can send a body; only a request that at least carries a signature gets one read.
        const signature = request.headers.get(SIGNATURE_HEADER)
        if (!signature || !parseSignature(signature)) {
          throw new HttpError(401, 'bad_signature', signature
            ? 'malformed X-Millicast-Signature header (expected sha1=<40 hex>)'
            : 'missing X-Millicast-Signature header')
        }
        // One read: the signature's HMAC and the event's SHA-256 are computed chunk by chunk as the body arrives.
        const check = source.verifier.start()
        const digest = bodyHash()
        const body = await readBodyLimited(request, maxBodyBytes, (chunk) => {
          check.update(chunk)
          digest.update(chunk)
        }, { inFlight: lease, timeoutMs: bodyTimeoutMs })
        fields.bytes = body.byteLength
        try {
          check.verify(signature)
        } catch (error) {
          if (error instanceof WebhookVerificationError) throw new HttpError(401, 'bad_signature', error.message)
          throw error
        }
        const context = {
          source: source.name, receivedAt: now(), bodySha256: digest.digest(),
          warn: (msg: string, f: Record<string, unknown>) => log.warn(msg, f),
        }
        const event = contentType === 'image/jpeg'
          ? await parseThumbnail(body, request.headers, context)
          : await parseJsonHook(body, context)
        Object.assign(fields, { id: event.id, type: event.type, event: event.event, stream: event.streamId })
        let accepted
        try {
          accepted = await options.accept(event)
        } catch (error) {
          if (error instanceof OutboxFullError) {
            throw new HttpError(503, 'spool_unavailable', 'cannot store the event right now', { 'retry-after': '5' })
          }
          throw error
        }
        Object.assign(fields, { destinations: accepted.destinations, duplicate: accepted.duplicate })
        log.info('hook accepted', { ...fields, status: 200, ms: elapsed(started) })
        options.observe?.({ source: source.name, kind: event.type, status: 200, reason: 'accepted', seconds: elapsed(started) / 1000 })
        return c.json({ ok: true, id: event.id, type: event.type, event: event.event, duplicate: accepted.duplicate })
      } catch (error) {
        const failure = httpErrorOf(error)
        const status = failure?.status ?? 500
        log[status >= 500 ? 'error' : 'warn']('hook refused', {
          ...fields, status, reason: failure?.reason ?? 'internal_error', ms: elapsed(started),
          ...(failure ? { detail: failure.message } : { error: String(error) }),
        })
        options.observe?.({
          source: source.name, kind: String(fields.type ?? 'unknown'), status, reason: failure?.reason ?? 'internal_error', seconds: elapsed(started) / 1000,
        })
        throw error
      } finally {
        // The body's bytes count against the in-flight cap until the request is answered (parse and spool hold it).
        lease.release()
      }
    })
    app.all(source.path, () => {
      throw new HttpError(405, 'method_not_allowed', 'webhooks are POSTed', { allow: 'POST' })
    })
  }

  options.extend?.(app)

  app.notFound(() => new HttpError(404, 'not_found', 'no such path').toResponse())
  app.onError((error) => {
    return (httpErrorOf(error) ?? new HttpError(500, 'internal_error', 'unexpected error; see the server log')).toResponse()
  })
  return app
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100
}
