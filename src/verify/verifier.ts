/**
 * The one verifier every hook kind goes through.
 *
 * Scheme (docs/protocol.md §2.1):
 * `X-Millicast-Signature: sha1=<lowercase hex HMAC-SHA1(base64decode(secret), raw body)>`. Several secrets may be
 * configured so a rotation ("Renew" in the dashboard takes effect at once) loses nothing.
 * The MAC is computed with `node:crypto` (Node, Deno and Bun all have it), chunk by chunk as the body arrives, so a
 * body is hashed while it is still in the CPU cache and never needs a second pass or a copy for Web Crypto.
 * @module
 */
import { createHmac, type Hmac } from 'node:crypto'
import { timingSafeEqual } from './constant-time.ts'
import { decodeBase64, fromHex } from '../util/encoding.ts'

export const SIGNATURE_HEADER = 'x-millicast-signature'

export class WebhookVerificationError extends Error {
  override name = 'WebhookVerificationError'
}

export interface Verifier {
  /** Resolves when `signature` is a valid signature of `body` under any configured secret; throws otherwise. */
  verify(body: Uint8Array, signature: string | null | undefined): Promise<void>
  /** Starts a check fed with the raw body as it streams in: `update` with each chunk, in order, then `verify`. */
  start(): StreamingVerification
}

export interface StreamingVerification {
  update(chunk: Uint8Array): void
  /** Returns when `signature` is valid for the bytes fed so far under any configured secret; throws otherwise. */
  verify(signature: string | null | undefined): void
}

/**
 * Builds a verifier from base64 secrets as the platform shows them. Throws at construction on an empty or
 * non-base64 secret, so a bad config fails at start rather than at the first request.
 */
export async function createVerifier(secrets: readonly string[]): Promise<Verifier> {
  if (secrets.length === 0) throw new Error('at least one secret is required')
  const keys = secrets.map((secret, index) => decodeSecret(secret, index))

  function start(): StreamingVerification {
    const macs: Hmac[] = keys.map((key) => createHmac('sha1', key))
    return {
      update(chunk) {
        for (const mac of macs) mac.update(chunk)
      },
      verify(signature) {
        if (!signature) throw new WebhookVerificationError('missing X-Millicast-Signature header')
        const expected = parseSignature(signature)
        if (!expected)
          throw new WebhookVerificationError('malformed X-Millicast-Signature header (expected sha1=<40 hex>)')
        // Every key is tried, even after a match, so timing does not reveal which secret matched.
        let matched = false
        for (const mac of macs) if (timingSafeEqual(mac.digest(), expected)) matched = true
        if (!matched) throw new WebhookVerificationError('signature does not match any configured secret')
      },
    }
  }

  return {
    async verify(body, signature) {
      const check = start()
      check.update(body)
      check.verify(signature)
    },
    start,
  }
}

/** Computes the header value the platform would send for `body`; used by tests, the CLI and benchmarks. */
export async function sign(body: Uint8Array, secret: string): Promise<string> {
  return 'sha1=' + createHmac('sha1', decodeSecret(secret, 0)).update(body).digest('hex')
}

function decodeSecret(secret: string, index: number): Uint8Array {
  const bytes = decodeBase64(secret.trim())
  if (!bytes || bytes.byteLength === 0) throw new Error(`secret #${index + 1} is empty or not base64`)
  return bytes
}

/**
 * Accepts `sha1=<hex>` in either case (HTTP intermediaries never touch it, but be liberal in what we accept).
 * Exported so a request without a well-formed header is refused before its body is read.
 */
export function parseSignature(header: string): Uint8Array | undefined {
  const match = /^\s*sha1=([0-9a-f]{40})\s*$/i.exec(header)
  if (!match) return undefined
  return fromHex(match[1]!)
}
