/**
 * Turns a verified request body into a HookEvent. Runs only after the signature check.
 * @module
 */
import { createHash } from 'node:crypto'
import { HttpError } from '../http/errors.ts'
import { DATA_SCHEMAS, envelope } from './schemas.ts'
import { isEpochMs, isFeedId, isStreamId, splitStreamId } from './identity.ts'
import { canonicalEvent, canonicalType, type EventContentType, type HookEvent } from './types.ts'
import { toHex } from '../verify/verifier.ts'

export interface ParseContext {
  source: string
  receivedAt: number
  /** Told when a verified payload of a known kind does not match its documented shape. */
  warn?: (message: string, fields: Record<string, unknown>) => void
  /** The body's SHA-256 when the caller hashed it as it streamed in (see `bodyHash`); computed here otherwise. */
  bodySha256?: Uint8Array
}

/** A SHA-256 to feed with the body's chunks as they arrive, for `ParseContext.bodySha256`. */
export function bodyHash(): { update(chunk: Uint8Array): void; digest(): Uint8Array } {
  return createHash('sha256')
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Classifies a Content-Type header; undefined means we don't take it (415). */
export function hookContentType(header: string | null): EventContentType | undefined {
  // The JSON hooks' exact Content-Type is undocumented (protocol.md §1), so a missing one is taken as JSON.
  const mime = (header ?? '').split(';')[0]!.trim().toLowerCase()
  if (mime === 'image/jpeg' || mime === 'image/jpg') return 'image/jpeg'
  if (mime === '' || mime === 'application/json' || mime === 'text/json' || mime.endsWith('+json')) return 'application/json'
  return undefined
}

export async function parseJsonHook(body: Uint8Array, ctx: ParseContext): Promise<HookEvent> {
  let json: unknown
  try {
    json = JSON.parse(utf8.decode(body))
  } catch {
    throw new HttpError(400, 'malformed_json', 'body is not valid UTF-8 JSON')
  }
  const parsed = envelope.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    throw new HttpError(400, 'malformed_envelope', `not a webhook envelope: ${issue.path.join('.') || '(root)'}: ${issue.message}`)
  }
  const type = canonicalType(parsed.data.type)
  const event = canonicalEvent(type, parsed.data.event)
  const data = parsed.data.data

  const schema = DATA_SCHEMAS[type]
  if (schema) {
    const check = schema.safeParse(data)
    if (!check.success) {
      const issue = check.error.issues[0]!
      ctx.warn?.('payload does not match the documented shape; accepted as is', {
        type, event, path: `data.${issue.path.join('.')}`, problem: issue.message,
      })
    }
  }

  const fields = streamFields(data)
  return {
    ...identify(body, '', ctx.bodySha256),
    source: ctx.source,
    type,
    event,
    timestamp: normaliseEpochMs(parsed.data.timestamp),
    receivedAt: ctx.receivedAt,
    ...fields,
    contentType: 'application/json',
    body,
    data,
  }
}

/**
 * Thumbnail metadata travels in headers the signature does not cover (protocol.md §2, §9.3), so each one is
 * checked before it can reach a file name or object key.
 */
export async function parseThumbnail(body: Uint8Array, headers: Headers, ctx: ParseContext): Promise<HookEvent> {
  if (body.byteLength < 4 || body[0] !== 0xff || body[1] !== 0xd8 || body[2] !== 0xff) {
    throw new HttpError(400, 'not_a_jpeg', 'thumbnail body is not a JPEG (no SOI marker)')
  }
  const feedId = headers.get('x-millicast-feed-id')?.trim() ?? ''
  const streamId = headers.get('x-millicast-stream-id')?.trim() ?? ''
  const timestamp = headers.get('x-millicast-timestamp')?.trim() ?? ''
  const tokenId = headers.get('x-millicast-token-id')?.trim() || undefined
  if (!isFeedId(feedId)) throw new HttpError(400, 'bad_feed_id', 'X-Millicast-Feed-Id is missing or does not look like an id')
  if (!isStreamId(streamId)) throw new HttpError(400, 'bad_stream_id', 'X-Millicast-Stream-Id is missing or not account/name')
  if (!isEpochMs(timestamp)) throw new HttpError(400, 'bad_timestamp', 'X-Millicast-Timestamp is missing or not epoch milliseconds')
  if (tokenId !== undefined && !/^\d{1,20}$/.test(tokenId)) {
    throw new HttpError(400, 'bad_token_id', 'X-Millicast-Token-Id is not a number')
  }
  const { accountId, streamName } = splitStreamId(streamId)!
  // Same JPEG with other metadata is another delivery: the headers are part of its identity.
  const identity = `\n${feedId}\n${streamId}\n${timestamp}\n${tokenId ?? ''}`
  return {
    ...identify(body, identity, ctx.bodySha256),
    source: ctx.source,
    type: 'thumbnail',
    event: 'thumbnail',
    timestamp: Number(timestamp),
    receivedAt: ctx.receivedAt,
    streamId,
    streamName,
    accountId,
    feedId,
    ...(tokenId !== undefined ? { tokenId } : {}),
    contentType: 'image/jpeg',
    body,
  }
}

/** Pulls the stream identity out of any kind's `data`, deriving what one field implies about the others. */
function streamFields(data: Record<string, unknown>): Pick<HookEvent, 'streamId' | 'streamName' | 'accountId' | 'feedId' | 'tokenId'> {
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined)
  const id = (value: unknown) => (typeof value === 'number' ? String(value) : text(value))
  const streamId = text(data.streamId)
  const split = streamId ? splitStreamId(streamId) : undefined
  const out: Record<string, string | undefined> = {
    streamId,
    streamName: text(data.streamName) ?? text(data.name) ?? split?.streamName,
    accountId: text(data.accountId) ?? split?.accountId,
    feedId: text(data.feedId),
    tokenId: id(data.tokenId),
  }
  for (const key of Object.keys(out)) if (out[key] === undefined) delete out[key]
  return out
}

/** The envelope timestamp is ms in every real payload; an old doc says seconds, so a 10-digit value is scaled. */
function normaliseEpochMs(value: number): number {
  return value > 0 && value < 1e11 ? Math.round(value * 1000) : value
}

/** The body's SHA-256 and the delivery id: the digest itself, or, for thumbnails, the digest with the headers. */
function identify(body: Uint8Array, identity: string, known: Uint8Array | undefined): { id: string; bodySha256: string } {
  const digest = known ?? createHash('sha256').update(body).digest()
  // Hash the body's digest with the headers rather than the large body next to them.
  const idDigest = identity ? createHash('sha256').update(digest).update(identity, 'utf8').digest() : digest
  return { id: toHex(idDigest.subarray(0, 12)), bodySha256: toHex(digest) }
}
