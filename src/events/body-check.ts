/**
 * The check a queued body passes when it is read back (from a spool segment, an S3 object, a dead letter): its
 * CRC-32, kept with the event since it was accepted. The CRC catches what it is there for — a torn or rotten copy
 * on disk — at a fraction of a cryptographic hash's cost: node:zlib's crc32 is native on Node, Deno and Bun (about
 * 2 µs per 100 KB on Deno and Bun, where SHA-256 takes 60–90 µs). Events queued by hookcast before 0.2 carry the
 * body's SHA-256 instead, which is still checked.
 * @module
 */
import { createHash } from 'node:crypto'
import { crc32 } from 'node:zlib'
import type { HookEvent } from './types.ts'

/** What an event keeps to check its body by: one of the two. */
type BodyCheck = Pick<HookEvent, 'bodyCrc32' | 'bodySha256'>

/** A CRC-32 fed with the body's chunks as they arrive (ingest), or with the whole body. */
export function bodyCrc(): { update(chunk: Uint8Array): void; value(): number } {
  let value = 0
  return {
    update(chunk) {
      value = crc32(chunk, value)
    },
    value: () => value,
  }
}

export function crcOf(body: Uint8Array): number {
  return crc32(body)
}

/** True when `body` is the one `check` was taken of; false for a body with nothing to check it by. */
export function bodyMatches(check: BodyCheck, body: Uint8Array): boolean {
  if (typeof check.bodyCrc32 === 'number') return crc32(body) === check.bodyCrc32
  if (typeof check.bodySha256 === 'string') return createHash('sha256').update(body).digest('hex') === check.bodySha256
  return false
}

/** True when a stored event's metadata carries a way to check its body. */
export function hasBodyCheck(meta: Partial<BodyCheck>): boolean {
  return typeof meta.bodyCrc32 === 'number' || typeof meta.bodySha256 === 'string'
}
