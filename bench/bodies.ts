/**
 * Distinct, signed webhook bodies for the load generator, cheap enough that the generator is not the bottleneck,
 * and reproducible from their sequence number alone, so the check can recompute what each accepted one was.
 *
 * Thumbnails: `SOI | COM(filler up to size) | COM(seq) | rest of a real frame`. Only the tail differs from one
 * request to the next, so HMAC-SHA1 (and the check's SHA-256) start from a hash state saved after the shared
 * prefix and hash a few KB per request instead of the whole body. Every body is a valid, decodable JPEG.
 * JSON: a feeds `started` event with a distinct feed id, name and timestamp, signed whole (it is ~300 bytes).
 * @module
 */
import { createHash, createHmac, type Hash } from 'node:crypto'
import { readFileSync } from 'node:fs'

/** The signing secret (base64) every server under test is configured with. */
export const SECRET = Buffer.from('hookcast-bench-secret-0123456789').toString('base64')
export const HOOK_PATH = '/hooks/millicast'

export type BodyKind = 'thumbnail' | 'json'

export interface Workload {
  kind: BodyKind
  /** Body size for thumbnails, bytes. */
  size: number
}

export interface BuiltRequest {
  body: Buffer
  headers: Record<string, string>
}

export interface BodyFactory {
  /** The request for sequence number `seq`. The returned body may be reused by the next call: copy it before then. */
  request(seq: number): BuiltRequest
  /** Lowercase hex SHA-256 of the body of `seq`. */
  sha256(seq: number): string
  /** A fresh copy of the body of `seq` (tests of the factory itself, the backlog filler). */
  body(seq: number): Buffer
}

const FRAME = readFileSync(new URL('../src/cli/sample-frame.jpg', import.meta.url))
const KEY = Buffer.from(SECRET, 'base64')
const SEQ_DIGITS = 12
/** Base of the thumbnails' X-Millicast-Timestamp: one ms per sequence number keeps them distinct and 13 digits. */
const EPOCH = 1_700_000_000_000
const STREAMS = 8

const pad = (seq: number) => String(seq).padStart(SEQ_DIGITS, '0')

/** HMAC-SHA1 split at a fixed prefix: the inner hash state after `key ^ ipad | prefix` is kept and copied. */
function hmacAfterPrefix(prefix: Buffer): (tail: Buffer) => string {
  const block = Buffer.alloc(64)
  KEY.copy(block) // the key is shorter than a SHA-1 block, so it is used as is, zero-padded
  const ipad = Buffer.from(block.map((b) => b ^ 0x36))
  const opad = Buffer.from(block.map((b) => b ^ 0x5c))
  const inner = createHash('sha1').update(ipad).update(prefix)
  return (tail) => {
    const innerDigest = inner.copy().update(tail).digest()
    return createHash('sha1').update(opad).update(innerDigest).digest('hex')
  }
}

function comment(text: Buffer): Buffer {
  const head = Buffer.from([0xff, 0xfe, (text.length + 2) >> 8, (text.length + 2) & 0xff])
  return Buffer.concat([head, text])
}

function thumbnails(size: number): BodyFactory {
  const tailLength = 4 + SEQ_DIGITS + FRAME.length - 2
  const parts: Buffer[] = [FRAME.subarray(0, 2)]
  let total = 2 + tailLength
  while (total < size) {
    const fill = Buffer.alloc(Math.min(65_000, Math.max(1, size - total - 4)), 0x20 + (parts.length % 90))
    parts.push(comment(fill))
    total += fill.length + 4
  }
  const prefix = Buffer.concat(parts)
  // One body buffer, rewritten in place: autocannon copies it into the request before the next call.
  const shared = Buffer.concat([prefix, comment(Buffer.from(pad(0))), FRAME.subarray(2)])
  const tail = shared.subarray(prefix.length)
  const seqAt = 4 // inside the tail: after the COM marker and length
  const hmac = hmacAfterPrefix(prefix)
  const sha256Prefix: Hash = createHash('sha256').update(prefix)
  const write = (seq: number) => tail.write(pad(seq), seqAt, 'latin1')
  return {
    request(seq) {
      write(seq)
      return {
        body: shared,
        headers: {
          'content-type': 'image/jpeg',
          'x-millicast-signature': `sha1=${hmac(tail)}`,
          'x-millicast-feed-id': `feed-${seq % STREAMS}`,
          'x-millicast-stream-id': `BENCH/stream-${seq % STREAMS}`,
          'x-millicast-timestamp': String(EPOCH + seq),
        },
      }
    },
    sha256(seq) {
      write(seq)
      return sha256Prefix.copy().update(tail).digest('hex')
    },
    body(seq) {
      write(seq)
      return Buffer.from(shared)
    },
  }
}

function feedEvents(): BodyFactory {
  const text = (seq: number) =>
    JSON.stringify({
      type: 'feeds',
      event: 'started',
      timestamp: EPOCH + seq,
      data: {
        feedId: `369e4a86-f937-4254-bd9f-${pad(seq)}`,
        accountId: 'BENCH',
        name: `stream-${seq % STREAMS}`,
        streamId: `BENCH/stream-${seq % STREAMS}`,
        started: EPOCH + seq - 130,
        active: true,
      },
    })
  return {
    request(seq) {
      const body = Buffer.from(text(seq))
      return {
        body,
        headers: {
          'content-type': 'application/json',
          'x-millicast-signature': `sha1=${createHmac('sha1', KEY).update(body).digest('hex')}`,
        },
      }
    },
    sha256: (seq) => createHash('sha256').update(text(seq)).digest('hex'),
    body: (seq) => Buffer.from(text(seq)),
  }
}

export function bodyFactory(workload: Workload): BodyFactory {
  return workload.kind === 'json' ? feedEvents() : thumbnails(workload.size)
}

/** Self-check: the shortcut signature equals a plain HMAC of the whole body, and the hashes agree. */
export function checkFactory(factory: BodyFactory, seq: number): void {
  const body = factory.body(seq)
  const { headers } = factory.request(seq)
  const plain = `sha1=${createHmac('sha1', KEY).update(body).digest('hex')}`
  if (headers['x-millicast-signature'] !== plain) throw new Error('bench body factory: signature shortcut is wrong')
  if (factory.sha256(seq) !== createHash('sha256').update(body).digest('hex'))
    throw new Error('bench body factory: hash shortcut is wrong')
}
