/**
 * What the app needs from an AWS Lambda HTTP event that Hono's adapter does not carry into the Request: bytes that
 * API Gateway turned into text, the client's address, and the path as sent. Plain functions on the documented event
 * shapes (Function URL / HTTP API payload 2.0, REST API, ALB), with no AWS or Hono import.
 * @module
 */
import { hookContentType } from '../../src/events/parse.ts'
import type { Bindings } from '../../src/http/bindings.ts'
import { HttpError } from '../../src/http/errors.ts'

/** The fields of a Lambda HTTP event read here (every shape has them, or some of them). */
export interface LambdaHttpEvent {
  /** Function URL, HTTP API (payload 2.0): the path, as sent (an HTTP API decodes it first). */
  rawPath?: string
  /** REST API, ALB: the path, as sent. */
  path?: string
  headers?: Record<string, string | undefined> | null
  multiValueHeaders?: Record<string, string[] | undefined> | null
  body?: string | null
  isBase64Encoded?: boolean
  requestContext?: {
    /** Function URL, HTTP API. */
    http?: { sourceIp?: string }
    /** REST API. */
    identity?: { sourceIp?: string }
    /** ALB. */
    elb?: unknown
  }
}

/**
 * The Request and bindings the app gets for `event` (`request` is Hono's adapter's), or the answer to a JPEG that
 * arrived as text: never verified, it could not match.
 */
export async function appRequest(
  event: LambdaHttpEvent,
  request: Request,
): Promise<{ request: Request; bindings: Bindings } | Response> {
  const asText = jpegAsText(event)
  if (asText === 'mangled') return binaryAsTextError().toResponse()
  const headers = nonAsciiHeaders(event)
  if (asText === 'latin1' || headers.length > 0) {
    request = await rebuilt(request, headers, asText === 'latin1' ? latin1Bytes(event.body!) : undefined)
  }
  const bindings: Bindings = {}
  const clientAddress = clientAddressOf(event)
  if (clientAddress) bindings.clientAddress = clientAddress
  const rawPath = rawPathOf(event)
  if (rawPath !== undefined) bindings.rawPath = rawPath
  return { request, bindings }
}

/** A copy of `request` with some header values replaced and, if given, other body bytes (and their length). */
async function rebuilt(request: Request, values: Array<[string, string]>, body?: Uint8Array): Promise<Request> {
  const headers = new Headers(request.headers)
  for (const [name, value] of values) headers.set(name, value)
  const bytes = body ?? (request.body ? new Uint8Array(await request.arrayBuffer()) : undefined)
  if (bytes) headers.set('content-length', String(bytes.byteLength))
  const init: RequestInit = { method: request.method, headers }
  if (bytes) init.body = bytes as Uint8Array<ArrayBuffer>
  return new Request(request.url, init)
}

/**
 * How a JPEG body arrived when it is not base64-encoded:
 * - `mangled`: as text, its bytes decoded as UTF-8 (a REST API whose binary media types do not list image/jpeg):
 *   bytes that were not UTF-8 are lost, so the signature cannot match; the answer is a 415 that says what to fix.
 * - `latin1`: as text with one character per byte (all below U+0100, starting with the JPEG start-of-image
 *   marker FF D8), so its bytes can be taken back exactly.
 * undefined when the body is base64, empty, or not a JPEG.
 */
function jpegAsText(event: LambdaHttpEvent): 'mangled' | 'latin1' | undefined {
  if (event.isBase64Encoded || !event.body) return undefined
  if (hookContentType(header(event, 'content-type') ?? null) !== 'image/jpeg') return undefined
  const body = event.body
  // FF never occurs in UTF-8, so a UTF-8 reading of a JPEG cannot start with FF D8: the body was decoded.
  if (body.charCodeAt(0) === 0xff && body.charCodeAt(1) === 0xd8 && !/[^\u0000-\u00ff]/.test(body)) return 'latin1'
  return 'mangled'
}

/** A text body of one character per byte, as those bytes. */
function latin1Bytes(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length)
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i)
  return bytes
}

/** The answer to a JPEG that API Gateway turned into text (`jpegAsText` says `mangled`). */
function binaryAsTextError(): HttpError {
  return new HttpError(
    415,
    'binary_body_as_text',
    'the JPEG arrived as text, not as base64: API Gateway converts binary bodies to text ' +
      "unless their content type is one of the REST API's binary media types. " +
      "Add image/jpeg (or */*) to the API's binary media types " +
      '(BinaryMediaTypes in the template; console: API settings, Binary media types), then deploy the API again.',
  )
}

/**
 * The client's address, for per-client limits: the connection's peer as the Function URL, HTTP API or REST API
 * saw it; behind an ALB, the address the ALB added last to X-Forwarded-For (the one it saw; earlier entries are the
 * client's word).
 */
function clientAddressOf(event: LambdaHttpEvent): string | undefined {
  const context = event.requestContext
  const direct = context?.http?.sourceIp ?? context?.identity?.sourceIp
  if (direct) return direct
  if (context?.elb === undefined) return undefined
  const forwarded = header(event, 'x-forwarded-for')?.split(',').pop()?.trim()
  return forwarded || undefined
}

/**
 * The event's header values that are not ASCII, as a server's Headers would hold them: their UTF-8 bytes, one
 * character per byte. AWS puts header bytes into the event decoded as UTF-8 (and Hono's adapter would then
 * percent-encode such a value); given back as bytes, the app reads them as it does on every server
 * (src/events/header-text.ts). Repeated headers are joined with ", ", as Headers join them.
 */
function nonAsciiHeaders(event: LambdaHttpEvent): Array<[string, string]> {
  const values = new Map<string, string[]>()
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (value !== undefined) values.set(key.toLowerCase(), [value])
  }
  for (const [key, list] of Object.entries(event.multiValueHeaders ?? {})) if (list) values.set(key.toLowerCase(), list)
  const out: Array<[string, string]> = []
  for (const [name, list] of values) {
    const value = list.join(', ')
    if (/[^\u0000-\u007f]/.test(value)) out.push([name, latin1Text(new TextEncoder().encode(value))])
  }
  return out
}

/** Bytes as text of one character per byte. */
function latin1Text(bytes: Uint8Array): string {
  let text = ''
  for (const byte of bytes) text += String.fromCharCode(byte)
  return text
}

/**
 * The path as the event gives it, before Hono's adapter makes a URL of it (which resolves dot segments), for the
 * app's dot-segment check (src/http/plain-path.ts).
 */
function rawPathOf(event: LambdaHttpEvent): string | undefined {
  return event.rawPath ?? event.path
}

/** A header of the event, whatever the case of its name (a REST API keeps the client's; the others lower-case). */
function header(event: LambdaHttpEvent, name: string): string | undefined {
  for (const [key, value] of Object.entries(event.headers ?? {}))
    if (key.toLowerCase() === name && value !== undefined) return value
  for (const [key, values] of Object.entries(event.multiValueHeaders ?? {})) {
    if (key.toLowerCase() === name && values && values.length > 0) return values.join(', ')
  }
  return undefined
}
