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
import type { EventContentType, HookEvent } from './events/types.ts'
import { route, type CompiledRoute } from './routing/router.ts'
import { QueueFullError, type Queue } from './queue/types.ts'
import {
  parseSignature,
  SIGNATURE_HEADER,
  WebhookVerificationError,
  type StreamingVerification,
  type Verifier,
} from './verify/verifier.ts'
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

interface IngestOptions {
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
  const ctx: IngestContext = {
    options,
    log: options.log,
    now: options.now ?? Date.now,
    inFlight: new InFlightBytes({ total: options.maxInFlightBytes, maxBodyBytes: options.maxBodyBytes }),
    trustProxy: options.trustProxy ?? false,
  }
  return {
    put: (event) => putEvent(ctx, event),
    hook: (source, request, bindings) => takeHook(ctx, source, request, bindings),
  }
}

/** What the steps of a hook share: the options, their defaults, and the one in-flight budget of all requests. */
interface IngestContext {
  options: IngestOptions
  log: Logger
  now: () => number
  inFlight: InFlightBytes
  trustProxy: boolean
}

/** Routes an event and puts it in the queue; a full queue is a 503 the platform sees (it never retries). */
async function putEvent(ctx: IngestContext, event: HookEvent): Promise<{ duplicate: boolean; destinations: number }> {
  const { options } = ctx
  const names = [...route(event, options.routes), ...options.internal(event)]
  if (names.length === 0) {
    ctx.log.info('no route matched', { id: event.id, type: event.type, event: event.event })
    options.onAccepted?.(event, names)
    return { duplicate: false, destinations: 0 }
  }
  let result: Awaited<ReturnType<Queue['put']>>
  try {
    result = await options.queue.put(event, names)
  } catch (error) {
    if (error instanceof QueueFullError) {
      throw new HttpError(503, 'spool_unavailable', 'cannot store the event right now', { 'retry-after': '5' })
    }
    throw error
  }
  if (!result.duplicate) options.onAccepted?.(event, names)
  return { duplicate: result.duplicate, destinations: names.length }
}

/** One webhook request, logged and observed whatever its outcome. */
async function takeHook(ctx: IngestContext, source: Source, request: Request, bindings: Bindings): Promise<Accepted> {
  const started = performance.now()
  const fields: Record<string, unknown> = { source: source.name, path: source.path }
  try {
    const accepted = await accept(ctx, source, request, bindings, fields)
    Object.assign(fields, { destinations: accepted.destinations, duplicate: accepted.duplicate })
    ctx.log.info('hook accepted', { ...fields, status: 200, ms: elapsed(started) })
    ctx.options.observe?.({
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
    ctx.log[status >= 500 ? 'error' : 'warn']('hook refused', {
      ...fields,
      status,
      reason: failure?.reason ?? 'internal_error',
      ms: elapsed(started),
      ...(failure ? { detail: failure.message } : { error: String(error) }),
    })
    ctx.options.observe?.({
      source: source.name,
      kind: String(fields.type ?? 'unknown'),
      status,
      reason: failure?.reason ?? 'internal_error',
      seconds: elapsed(started) / 1000,
    })
    throw error
  }
}

/** The steps, in order; `fields` gathers what the log line says about the request as they learn it. */
async function accept(
  ctx: IngestContext,
  source: Source,
  request: Request,
  bindings: Bindings,
  fields: Record<string, unknown>,
): Promise<Accepted> {
  const lease = ctx.inFlight.lease(clientAddress(request, ctx.trustProxy, bindings.clientAddress), busy)
  try {
    const contentType = acceptedContentType(request)
    const signature = signatureOf(request)
    const check = source.verifier.start()
    const crc = bodyCrc()
    // One read: the signature's HMAC and the body's CRC-32 are computed chunk by chunk as the body arrives.
    const body = await readBodyLimited(
      request,
      ctx.options.maxBodyBytes,
      (chunk) => {
        check.update(chunk)
        crc.update(chunk)
      },
      { inFlight: lease, timeoutMs: ctx.options.bodyTimeoutMs, ...(bindings.body ? { raw: bindings.body } : {}) },
    )
    fields.bytes = body.byteLength
    verifySignature(check, signature.header)
    const parseContext = {
      source: source.name,
      receivedAt: ctx.now(),
      signature: signature.mac,
      bodyCrc32: crc.value(),
      warn: (msg: string, f: Record<string, unknown>) => ctx.log.warn(msg, f),
    }
    const event =
      contentType === 'image/jpeg'
        ? await parseThumbnail(body, request.headers, parseContext)
        : await parseJsonHook(body, parseContext)
    Object.assign(fields, { id: event.id, type: event.type, event: event.event, stream: event.streamId })
    return { event, ...(await putEvent(ctx, event)) }
  } finally {
    // The body's bytes count against the in-flight cap until the request is answered (parse and put hold it).
    lease.release()
  }
}

// Refused before its body is read: the connection closes after the answer, so no client sends its next request
// behind a body the server is still throwing away.
const UNREAD = { connection: 'close' }

function acceptedContentType(request: Request): EventContentType {
  const contentType = hookContentType(request.headers.get('content-type'))
  if (!contentType) {
    throw new HttpError(415, 'unsupported_content_type', 'expected application/json or image/jpeg', UNREAD)
  }
  return contentType
}

/** Anyone can send a body; only a request that at least carries a well-formed signature gets one read. */
function signatureOf(request: Request): { header: string; mac: Uint8Array } {
  const header = request.headers.get(SIGNATURE_HEADER)
  const mac = header ? parseSignature(header) : undefined
  if (!header || !mac) {
    const problem = header
      ? 'malformed X-Millicast-Signature header (expected sha1=<40 hex>)'
      : 'missing X-Millicast-Signature header'
    throw new HttpError(401, 'bad_signature', problem, UNREAD)
  }
  return { header, mac }
}

function verifySignature(check: StreamingVerification, header: string): void {
  try {
    check.verify(header)
  } catch (error) {
    if (error instanceof WebhookVerificationError) throw new HttpError(401, 'bad_signature', error.message)
    throw error
  }
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100
}
