/**
 * The local queue's record format, in segment files and dead-letter files:
 *
 *   u32 length (of everything after it) | u8 kind | u32 header length | u32 CRC-32 of header | header JSON | body
 *
 * The CRC and the length let recovery tell a complete record from one torn by a crash mid-write. Bodies are
 * checked against their SHA-256 (kept in the header) when they are read back.
 * @module
 */
import { crc32 } from 'node:zlib'

export const PREFIX_BYTES = 13

/** E: an event and its pending deliveries; D: delivered; A: a failed attempt or a deferral; X: dead; L: dead letter. */
export type RecordKind = 'E' | 'D' | 'A' | 'X' | 'L'

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** Encodes a record as [prefix+header, body] so a large body is written without being copied. */
export function encodeRecord(kind: RecordKind, header: unknown, body?: Uint8Array): Uint8Array[] {
  const json = encoder.encode(JSON.stringify(header))
  const bodyLength = body?.byteLength ?? 0
  const head = new Uint8Array(PREFIX_BYTES + json.byteLength)
  const view = new DataView(head.buffer)
  view.setUint32(0, 1 + 4 + 4 + json.byteLength + bodyLength)
  view.setUint8(4, kind.charCodeAt(0))
  view.setUint32(5, json.byteLength)
  view.setUint32(9, crc32(json))
  head.set(json, PREFIX_BYTES)
  return body && bodyLength > 0 ? [head, body] : [head]
}

interface RecordPrefix {
  /** Total bytes of the record, prefix included. */
  size: number
  kind: RecordKind
  headerLength: number
  headerCrc: number
}

/** Reads the fixed prefix at `offset` of `bytes`; undefined when it is not a plausible record. */
export function decodePrefix(bytes: Uint8Array, offset: number): RecordPrefix | undefined {
  if (bytes.byteLength - offset < PREFIX_BYTES) return undefined
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, PREFIX_BYTES)
  const length = view.getUint32(0)
  const kind = String.fromCharCode(view.getUint8(4)) as RecordKind
  const headerLength = view.getUint32(5)
  if (!'EDAXL'.includes(kind) || headerLength === 0 || 9 + headerLength > length) return undefined
  return { size: 4 + length, kind, headerLength, headerCrc: view.getUint32(9) }
}

/** Parses a header whose bytes start at `offset`; undefined when its CRC does not match. */
export function decodeHeader<T>(bytes: Uint8Array, offset: number, prefix: RecordPrefix): T | undefined {
  const json = bytes.subarray(offset + PREFIX_BYTES, offset + PREFIX_BYTES + prefix.headerLength)
  if (json.byteLength !== prefix.headerLength || crc32(json) !== prefix.headerCrc) return undefined
  try {
    return JSON.parse(decoder.decode(json)) as T
  } catch {
    return undefined
  }
}

/** Decodes a whole record held in one buffer (a dead-letter file). */
export function decodeWhole<T>(bytes: Uint8Array): { kind: RecordKind; header: T; body: Uint8Array } | undefined {
  const prefix = decodePrefix(bytes, 0)
  if (!prefix || prefix.size !== bytes.byteLength) return undefined
  const header = decodeHeader<T>(bytes, 0, prefix)
  if (header === undefined) return undefined
  return { kind: prefix.kind, header, body: bytes.subarray(PREFIX_BYTES + prefix.headerLength) }
}
