/**
 * What the S3 queue's objects hold.
 *
 * - A delivery object is JSON ({@link DeliveryState}): the delivery's state, the copy of the event it delivers, and
 *   the lease of the claim holding it. Every write carries a fresh random `rev`, so every write has a new ETag (S3's
 *   ETag is the MD5 of the bytes: without it, a state written again byte for byte would bring an old ETag back, and
 *   a conditional write made against that old ETag would wrongly succeed).
 * - An event copy and a dead letter are framed: `HC1 <header bytes>\n`, the header as JSON, then the body exactly
 *   as received. Listing dead letters reads only the first bytes of each.
 * @module
 */
import type { HookEvent } from '../../events/types.ts'
import type { Attempt } from '../../queue/types.ts'
import { bodyMatches, hasBodyCheck } from '../../events/body-check.ts'
import { loadedEvent, type EventMeta } from '../../queue/loaded-event.ts'
import { decodeDeliveryState, encodeDeliveryState } from '../../queue/delivery-state.ts'

export interface DeliveryState {
  v: 1
  eventId: string
  destination: string
  /** The event copy (`events/<eventId>/<copy>`) this delivery sends. */
  copy: string
  /** The destinations put with that copy: the copy goes once none of them refers to it any more. */
  group: string[]
  receivedAt: number
  since: number
  attempts: Attempt[]
  nextAt: number
  /** The claim holding it, until `until` (epoch ms, the claimer's clock). */
  lease?: { token: string; until: number }
  rev: string
}

export interface CopyHeader {
  meta: EventMeta
  group: string[]
}

export interface DeadHeader {
  meta: EventMeta
  destination: string
  deadAt: number
  attempts: Attempt[]
}

const MAGIC = 'HC1 '
/** Bytes read first from a framed object to get its header (most headers are far smaller). */
export const HEADER_PROBE_BYTES = 16 * 1024
const encoder = new TextEncoder()
const decoder = new TextDecoder()

export function newRev(): string {
  return crypto.randomUUID().replaceAll('-', '')
}

/** A copy id: when the event was received (base 36, so copies sort by it) and a random part. */
export function newCopyId(receivedAt: number): string {
  return `${Math.max(0, Math.floor(receivedAt)).toString(36).padStart(9, '0')}-${newRev().slice(0, 12)}`
}

/** The receivedAt a copy id was made with, epoch ms. */
export function copyReceivedAt(copy: string): number | undefined {
  const at = Number.parseInt(copy.split('-')[0] ?? '', 36)
  return Number.isFinite(at) ? at : undefined
}

export function encodeDelivery(state: DeliveryState): Uint8Array {
  return encodeDeliveryState(state)
}

export function decodeDelivery(bytes: Uint8Array): DeliveryState | undefined {
  return decodeDeliveryState<DeliveryState>(
    bytes,
    (state) =>
      state.v === 1 &&
      typeof state.copy === 'string' &&
      (state.lease === undefined || (typeof state.lease.token === 'string' && typeof state.lease.until === 'number')),
  )
}

export function frame(header: CopyHeader | DeadHeader, body: Uint8Array): Uint8Array {
  const head = encoder.encode(JSON.stringify(header))
  const start = encoder.encode(`${MAGIC}${head.byteLength}\n`)
  const out = new Uint8Array(start.byteLength + head.byteLength + body.byteLength)
  out.set(start, 0)
  out.set(head, start.byteLength)
  out.set(body, start.byteLength + head.byteLength)
  return out
}

interface Unframed<H> {
  header: H
  /** The body, when the bytes given held all of it. */
  body: Uint8Array
  /** How many bytes the framed object has before its body. */
  headerEnd: number
}

/**
 * Reads a framed object's header (and body). With only the first bytes of the object, resolves `{ needed }` when the
 * header goes on past them, or undefined when the bytes are not a framed object.
 */
export function unframe<H>(bytes: Uint8Array): Unframed<H> | { needed: number } | undefined {
  const newline = bytes.indexOf(10)
  if (newline < 0 || newline > 32) return undefined
  const start = decoder.decode(bytes.subarray(0, newline))
  if (!start.startsWith(MAGIC)) return undefined
  const length = Number(start.slice(MAGIC.length))
  if (!Number.isSafeInteger(length) || length < 2) return undefined
  const headerEnd = newline + 1 + length
  if (bytes.byteLength < headerEnd) return { needed: headerEnd }
  const header = parse(decoder.decode(bytes.subarray(newline + 1, headerEnd))) as H | undefined
  if (!header || typeof header !== 'object') return undefined
  return { header, body: bytes.subarray(headerEnd), headerEnd }
}

export function isCopyHeader(header: unknown): header is CopyHeader {
  const h = header as CopyHeader
  return !!h && isMeta(h.meta) && Array.isArray(h.group) && h.group.every((d) => typeof d === 'string')
}

export function isDeadHeader(header: unknown): header is DeadHeader {
  const h = header as DeadHeader
  return (
    !!h &&
    isMeta(h.meta) &&
    typeof h.destination === 'string' &&
    typeof h.deadAt === 'number' &&
    Array.isArray(h.attempts)
  )
}

function isMeta(meta: unknown): meta is EventMeta {
  const m = meta as EventMeta
  return (
    !!m && typeof m.id === 'string' && typeof m.type === 'string' && typeof m.receivedAt === 'number' && hasBodyCheck(m)
  )
}

/** The event as `put` took it: metadata, body and, for JSON hooks, the parsed `data`; the body's hash checked. */
export async function eventFrom(meta: EventMeta, body: Uint8Array): Promise<HookEvent> {
  if (!bodyMatches(meta, body))
    throw new Error(`the S3 queue's copy of event ${meta.id} is corrupt (its body hash differs)`)
  return loadedEvent(meta, body)
}

function parse(raw: string): unknown {
  try {
    return JSON.parse(raw)
  } catch {
    return undefined
  }
}
