/**
 * Turns a verified request body into a HookEvent. Runs only after the signature check; a body it does not take
 * throws `HookRejected`.
 * @module
 */
import { createHash } from 'node:crypto'
import type { z } from 'zod'
import { DATA_SCHEMAS, envelope } from './payload-schemas.ts'
import { HookRejected } from './errors.ts'
import { isFeedId, isStreamId, splitStreamId } from './stream-ids.ts'
import { canonicalEvent, canonicalType, isOwnType, type EventContentType, type HookEvent } from './types.ts'
import { toHex } from '../util/encoding.ts'
import { crcOf } from './body-check.ts'
import { headerText } from './header-text.ts'

export interface ParseContext {
  source: string
  receivedAt: number
  /** Told when a verified payload of a known kind does not match its documented shape. */
  warn?: (message: string, fields: Record<string, unknown>) => void
  /**
   * The MAC of the platform's signature, once the caller verified it against the body: it identifies the body as
   * well as a hash of it would (same body, same secret, same MAC), and costs nothing more. Without it the body's
   * SHA-256 is computed here.
   */
  signature?: Uint8Array
  /** The body's CRC-32 when the caller computed it as the body streamed in (see `bodyCrc`); computed here otherwise. */
  bodyCrc32?: number
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Bounds on what a signed payload may hold. The platform's payloads are a few levels deep with short ids; a
 * payload past these is not one it sends, and would make later steps (serialising, file names) fail on it.
 */
const MAX_DEPTH = 32
const MAX_PART = 256
const MAX_STREAM_ID = MAX_PART * 2 + 1
const MAX_FEED_ID = 128
/** 2100-01-01: timestamps past it (or before 1970) are not times the platform sends. */
const LATEST_EPOCH_MS = 4_102_444_800_000

/** Epoch milliseconds as a header writes them: 13 digits (2001-09-09 to 2286-11-20). */
function isEpochMs(value: string): boolean {
  return /^\d{13}$/.test(value)
}

function isSaneEpochMs(value: number): boolean {
  return Number.isFinite(value) && value >= 0 && value < LATEST_EPOCH_MS
}

/** How deep `value` nests, counted without recursion (a hostile depth must not overflow the stack here either). */
function nestingDepth(value: unknown, stopAfter: number): number {
  let deepest = 0
  const stack: Array<[unknown, number]> = [[value, 1]]
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!
    if (node === null || typeof node !== 'object') continue
    deepest = Math.max(deepest, depth)
    if (deepest > stopAfter) return deepest
    for (const child of Object.values(node)) stack.push([child, depth + 1])
  }
  return deepest
}

/** Classifies a Content-Type header; undefined means we don't take it (415). */
export function hookContentType(header: string | null): EventContentType | undefined {
  // The JSON hooks' exact Content-Type is undocumented (docs/protocol.md §1), so a missing one is taken as JSON.
  const mime = (header ?? '').split(';')[0]!.trim().toLowerCase()
  if (mime === 'image/jpeg' || mime === 'image/jpg') return 'image/jpeg'
  if (mime === '' || mime === 'application/json' || mime === 'text/json' || mime.endsWith('+json'))
    return 'application/json'
  return undefined
}

export async function parseJsonHook(body: Uint8Array, ctx: ParseContext): Promise<HookEvent> {
  const hook = readEnvelope(body)
  const type = canonicalType(hook.type)
  if (isOwnType(type)) {
    // hookcast's own events (stream live/ended) come from the tracker, never from outside.
    throw new HookRejected(
      'reserved_type',
      `type "${hook.type}" is hookcast's own event kind; the platform never sends it`,
    )
  }
  const event = canonicalEvent(type, hook.event)
  const data = hook.data
  const timestamp = normaliseEpochMs(hook.timestamp)
  if (!isSaneEpochMs(timestamp))
    throw new HookRejected('bad_timestamp', 'timestamp is not a time between 1970 and 2100 (epoch ms)')
  if (nestingDepth(data, MAX_DEPTH) > MAX_DEPTH) {
    throw new HookRejected('too_deeply_nested', `data is nested deeper than ${MAX_DEPTH} levels`)
  }
  warnIfUndocumented(ctx, type, event, data)
  const fields = streamFields(data)
  checkDataBounds(data, fields)
  // Built property by property: spreading `identify`'s result and the stream fields into the literal made this
  // function three times slower on V8 (20 µs against 7 µs for a feeds hook).
  const { id, bodyCrc32 } = identify(body, '', ctx)
  const parsedEvent: HookEvent = {
    id,
    bodyCrc32,
    source: ctx.source,
    type,
    event,
    timestamp,
    receivedAt: ctx.receivedAt,
    contentType: 'application/json',
    body,
    data,
  }
  if (fields.streamId !== undefined) parsedEvent.streamId = fields.streamId
  if (fields.streamName !== undefined) parsedEvent.streamName = fields.streamName
  if (fields.accountId !== undefined) parsedEvent.accountId = fields.accountId
  if (fields.feedId !== undefined) parsedEvent.feedId = fields.feedId
  if (fields.tokenId !== undefined) parsedEvent.tokenId = fields.tokenId
  return parsedEvent
}

/** The body as UTF-8 JSON in the platform's envelope (type, event, timestamp, data). */
function readEnvelope(body: Uint8Array): z.infer<typeof envelope> {
  let json: unknown
  try {
    json = JSON.parse(utf8.decode(body))
  } catch {
    throw new HookRejected('malformed_json', 'body is not valid UTF-8 JSON')
  }
  const parsed = envelope.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    throw new HookRejected(
      'malformed_envelope',
      `not a webhook envelope: ${issue.path.join('.') || '(root)'}: ${issue.message}`,
    )
  }
  return parsed.data
}

/** A known kind whose data does not match its documented shape is still taken (the docs lag), with a warning. */
function warnIfUndocumented(ctx: ParseContext, type: string, event: string, data: Record<string, unknown>): void {
  const schema = Object.hasOwn(DATA_SCHEMAS, type) ? DATA_SCHEMAS[type] : undefined // `type` is input: own keys only
  if (!schema) return
  const check = schema.safeParse(data)
  if (check.success) return
  const issue = check.error.issues[0]!
  ctx.warn?.('payload does not match the documented shape; accepted as is', {
    type,
    event,
    path: `data.${issue.path.join('.')}`,
    problem: issue.message,
  })
}

/** The data's own times and ids within the bounds above. */
function checkDataBounds(data: Record<string, unknown>, fields: StreamFields): void {
  for (const key of ['started', 'ended'] as const) {
    if (typeof data[key] === 'number' && !isSaneEpochMs(data[key]))
      throw new HookRejected('bad_timestamp', `data.${key} is not a time between 1970 and 2100 (epoch ms)`)
  }
  if (
    (fields.streamId?.length ?? 0) > MAX_STREAM_ID ||
    (fields.streamName?.length ?? 0) > MAX_PART ||
    (fields.accountId?.length ?? 0) > MAX_PART
  ) {
    throw new HookRejected(
      'bad_stream_id',
      `stream ids are at most ${MAX_STREAM_ID} characters (account and name ${MAX_PART} each)`,
    )
  }
  if ((fields.feedId?.length ?? 0) > MAX_FEED_ID || (fields.tokenId?.length ?? 0) > MAX_FEED_ID) {
    throw new HookRejected('bad_feed_id', `feed and token ids are at most ${MAX_FEED_ID} characters`)
  }
}

/**
 * Thumbnail metadata travels in headers the signature does not cover (docs/protocol.md §2.2, §6.1), so each one is
 * checked before it can reach a file name or object key.
 */
export async function parseThumbnail(body: Uint8Array, headers: Headers, ctx: ParseContext): Promise<HookEvent> {
  if (body.byteLength < 4 || body[0] !== 0xff || body[1] !== 0xd8 || body[2] !== 0xff) {
    throw new HookRejected('not_a_jpeg', 'thumbnail body is not a JPEG (no SOI marker)')
  }
  // Header values are UTF-8 (header-text.ts): a stream id is then the same text as in the JSON hooks.
  const feedId = headerText(headers, 'x-millicast-feed-id')?.trim() ?? ''
  const streamId = headerText(headers, 'x-millicast-stream-id')?.trim() ?? ''
  const timestamp = headerText(headers, 'x-millicast-timestamp')?.trim() ?? ''
  const tokenId = headerText(headers, 'x-millicast-token-id')?.trim() || undefined
  if (!isFeedId(feedId))
    throw new HookRejected('bad_feed_id', 'X-Millicast-Feed-Id is missing or does not look like an id')
  if (!isStreamId(streamId))
    throw new HookRejected('bad_stream_id', 'X-Millicast-Stream-Id is missing or not account/name')
  if (!isEpochMs(timestamp) || !isSaneEpochMs(Number(timestamp)))
    throw new HookRejected('bad_timestamp', 'X-Millicast-Timestamp is missing or not epoch milliseconds')
  if (tokenId !== undefined && !/^\d{1,20}$/.test(tokenId)) {
    throw new HookRejected('bad_token_id', 'X-Millicast-Token-Id is not a number')
  }
  const { accountId, streamName } = splitStreamId(streamId)!
  // Same JPEG with other metadata is another delivery: the headers are part of its identity.
  const identity = `\n${feedId}\n${streamId}\n${timestamp}\n${tokenId ?? ''}`
  const { id, bodyCrc32 } = identify(body, identity, ctx)
  const parsedEvent: HookEvent = {
    id,
    bodyCrc32,
    source: ctx.source,
    type: 'thumbnail',
    event: 'thumbnail',
    timestamp: Number(timestamp),
    receivedAt: ctx.receivedAt,
    streamId,
    streamName,
    accountId,
    feedId,
    contentType: 'image/jpeg',
    body,
  }
  if (tokenId !== undefined) parsedEvent.tokenId = tokenId
  return parsedEvent
}

type StreamFields = Record<'streamId' | 'streamName' | 'accountId' | 'feedId' | 'tokenId', string | undefined>

/**
 * Pulls the stream identity out of any kind's `data`, deriving what one field implies about the others (undefined:
 * absent).
 */
function streamFields(data: Record<string, unknown>): StreamFields {
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined)
  const id = (value: unknown) => (typeof value === 'number' ? String(value) : text(value))
  const streamId = text(data.streamId)
  const split = streamId ? splitStreamId(streamId) : undefined
  return {
    streamId,
    streamName: text(data.streamName) ?? text(data.name) ?? split?.streamName,
    accountId: text(data.accountId) ?? split?.accountId,
    feedId: text(data.feedId),
    tokenId: id(data.tokenId),
  }
}

/** The envelope timestamp is ms in every real payload; an old doc says seconds, so a 10-digit value is scaled. */
function normaliseEpochMs(value: number): number {
  return value > 0 && value < 1e11 ? Math.round(value * 1000) : value
}

/**
 * The delivery id and the body's CRC-32. The id is a digest of the verified signature's MAC (or, unverified, of the
 * body's SHA-256) with, for thumbnails, the headers: the same delivery always gets the same id.
 */
function identify(body: Uint8Array, identity: string, ctx: ParseContext): { id: string; bodyCrc32: number } {
  const bodyCrc32 = ctx.bodyCrc32 ?? crcOf(body)
  if (ctx.signature) {
    const digest = createHash('sha256').update('hmac-sha1\n').update(ctx.signature).update(identity, 'utf8').digest()
    return { id: toHex(digest.subarray(0, 12)), bodyCrc32 }
  }
  const digest = createHash('sha256').update(body).digest()
  // Hash the body's digest with the headers rather than the large body next to them.
  const idDigest = identity ? createHash('sha256').update(digest).update(identity, 'utf8').digest() : digest
  return { id: toHex(idDigest.subarray(0, 12)), bodyCrc32 }
}
