/**
 * Ingest: a webhook request in, an answer out. Content type (415) -> a well-formed signature header (401, before
 * a byte of the body is read) -> bounded body read (413, 503 busy, 408) hashed as it arrives -> signature (401)
 * -> parse (400) -> route -> queue put (503 when it cannot take the event) -> 200.
 *
 * `put` is the route-and-put step alone, for events hookcast makes itself (a stream went live).
 * @module
 */
import { HttpError, httpErrorOf } from './http/errors.ts'
import type { HookRequest } from './http/hook-request.ts'
import type { Bindings } from './http/bindings.ts'
import { busy, readBodyLimited } from './http/read-body.ts'
import { InFlightBytes } from './http/in-flight.ts'
import { clientAddress } from './http/client-address.ts'
import { hookContentType, parseJsonHook, parseThumbnail } from './events/parse.ts'
import { bodyCrc } from './events/body-check.ts'
import type { HookEvent } from './events/types.ts'
import { route, type CompiledRoute } from './routing/router.ts'
import { QueueFullError, type Queue } from './queue/types.ts'
import { parseSignature, SIGNATURE_HEADER, WebhookVerificationError, type Verifier } from './verify/verifier.ts'
import type { Logger } from './log.ts'

export interface Source {
  name: string
  path: string
  verifier: Verifier
}

interface Accepted {
  event: HookEvent
  duplicate: boolean
  destinations: number
}

export interface IngestOptions {
  queue: Queue
  routes: readonly CompiledRoute[]
  /** Destinations of hookcast's own that see an event whatever the routes (the stream tracker). */
  internal(event: HookEvent): string[]
  maxBodyBytes: number
  /** Body bytes all requests may hold at once (`server.maxInFlightBytes`), shared between clients (in-flight.ts). */
  maxInFlightBytes: number
  /** Behind a reverse proxy: a request's client is the last X-Forwarded-For hop (`server.trustProxy`). */
  trustProxy?: boolean
  /** A body must arrive whole within this many ms (`server.bodyTimeout`), else 408; 0 = no deadline. */
  bodyTimeoutMs: number
  log: Logger
  now?: () => number
  /** Told of every event put (the page's recent events). */
  onAccepted?: (event: HookEvent, destinations: string[]) => void
  /** Told of every webhook request's outcome (metrics). */
  observe?: (request: HookRequest) => void
}

export interface Ingest {
  /** Takes one webhook request for `source`; resolves with the event accepted, or throws an HttpError. */
  hook(source: Source, request: Request, bindings: Bindings): Promise<Accepted>
  /** Routes an event and puts it in the queue. */
  put(event: HookEvent): Promise<{ duplicate: boolean; destinations: number }>
}

export function createIngest(options: IngestOptions): Ingest {
  const { log, queue } = options
  const now = options.now ?? Date.now
  const inFlight = new InFlightBytes({ total: options.maxInFlightBytes, maxBodyBytes: options.maxBodyBytes })
  const trustProxy = options.trustProxy ?? false

  async function put(event: HookEvent): Promise<{ duplicate: boolean; destinations: number }> {
    const names = [...route(event, options.routes), ...options.internal(event)]
    if (names.length === 0) {
      log.info('no route matched', { id: event.id, type: event.type, event: event.event })
      options.onAccepted?.(event, names)
      return { duplicate: false, destinations: 0 }
    }
    let result: Awaited<ReturnType<Queue['put']>>
    try {
      result = await queue.put(event, names)
    } catch (error) {
      if (error instanceof QueueFullError) {
        throw new HttpError(503, 'spool_unavailable', 'cannot store the event right now', { 'retry-after': '5' })
      }
      throw error
    }
    if (!result.duplicate) options.onAccepted?.(event, names)
    return { duplicate: result.duplicate, destinations: names.length }
  }

  async function accept(
    source: Source,
    request: Request,
    bindings: Bindings,
    fields: Record<string, unknown>,
  ): Promise<Accepted> {
    const lease = inFlight.lease(clientAddress(request, trustProxy, bindings.clientAddress), busy)
    try {
      // Refused before its body is read: the connection closes after the answer, so no client sends its next
      // request behind a body the server is still throwing away.
      const unread = { connection: 'close' }
      const contentType = hookContentType(request.headers.get('content-type'))
      if (!contentType)
        throw new HttpError(415, 'unsupported_content_type', 'expected application/json or image/jpeg', unread)
      // Anyone can send a body; only a request that at least carries a signature gets one read.
      const signature = request.headers.get(SIGNATURE_HEADER)
      const mac = signature ? parseSignature(signature) : undefined
      if (!signature || !mac) {
        throw new HttpError(
          401,
          'bad_signature',
          signature
            ? 'malformed X-Millicast-Signature header (expected sha1=<40 hex>)'
            : 'missing X-Millicast-Signature header',
          unread,
        )
      }
      // One read: the signature's HMAC and the body's CRC-32 are computed chunk by chunk as the body arrives.
      const check = source.verifier.start()
      const crc = bodyCrc()
      const body = await readBodyLimited(
        request,
        options.maxBodyBytes,
        (chunk) => {
          check.update(chunk)
          crc.update(chunk)
        },
        { inFlight: lease, timeoutMs: options.bodyTimeoutMs, ...(bindings.body ? { raw: bindings.body } : {}) },
      )
      fields.bytes = body.byteLength
      try {
        check.verify(signature)
      } catch (error) {
        if (error instanceof WebhookVerificationError) throw new HttpError(401, 'bad_signature', error.message)
        throw error
      }
      const context = {
        source: source.name,
        receivedAt: now(),
        signature: mac,
        bodyCrc32: crc.value(),
        warn: (msg: string, f: Record<string, unknown>) => log.warn(msg, f),
      }
      const event =
        contentType === 'image/jpeg'
          ? await parseThumbnail(body, request.headers, context)
          : await parseJsonHook(body, context)
      Object.assign(fields, { id: event.id, type: event.type, event: event.event, stream: event.streamId })
      return { event, ...(await put(event)) }
    } finally {
      // The body's bytes count against the in-flight cap until the request is answered (parse and put hold it).
      lease.release()
    }
  }

  return {
    put,
    async hook(source, request, bindings) {
      const started = performance.now()
      const fields: Record<string, unknown> = { source: source.name, path: source.path }
      try {
        const accepted = await accept(source, request, bindings, fields)
        Object.assign(fields, { destinations: accepted.destinations, duplicate: accepted.duplicate })
        log.info('hook accepted', { ...fields, status: 200, ms: elapsed(started) })
        options.observe?.({
          source: source.name,
          kind: accepted.event.type,
          status: 200,
          reason: 'accepted',
          seconds: elapsed(started) / 1000,
        })
        return accepted
      } catch (error) {
        const failure = httpErrorOf(error)
        const status = failure?.status ?? 500
        log[status >= 500 ? 'error' : 'warn']('hook refused', {
          ...fields,
          status,
          reason: failure?.reason ?? 'internal_error',
          ms: elapsed(started),
          ...(failure ? { detail: failure.message } : { error: String(error) }),
        })
        options.observe?.({
          source: source.name,
          kind: String(fields.type ?? 'unknown'),
          status,
          reason: failure?.reason ?? 'internal_error',
          seconds: elapsed(started) / 1000,
        })
        throw error
      }
    },
  }
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100
}
