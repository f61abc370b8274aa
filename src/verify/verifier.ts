/**
 * The one verifier every hook kind goes through.
 *
 * Scheme (protocol.md §2): `X-Millicast-Signature: sha1=<lowercase hex HMAC-SHA1(base64decode(secret), raw body)>`.
 * Several secrets may be configured so a rotation ("Renew" in the dashboard takes effect at once) loses nothing.
 * Web Crypto only, so it runs unchanged on Node, Deno and Bun.
 * @module
 */
import { timingSafeEqual } from './constant-time.ts'

export const SIGNATURE_HEADER = 'x-millicast-signature'

export class WebhookVerificationError extends Error {
  override name = 'WebhookVerificationError'
}

export interface Verifier {
  /** Resolves when `signature` is a valid signature of `body` under any configured secret; throws otherwise. */
  verify(body: Uint8Array, signature: string | null | undefined): Promise<void>
}

/**
 * Builds a verifier from base64 secrets as the platform shows them. Throws at construction on an empty or
 * non-base64 secret, so a bad config fails at start rather than at the first request.
 */
export async function createVerifier(secrets: readonly string[]): Promise<Verifier> {
  if (secrets.length === 0) throw new Error('at least one secret is required')
  const keys = await Promise.all(secrets.map((secret, index) => importSecret(secret, index)))

  return {
    async verify(body, signature) {
      if (!signature) throw new WebhookVerificationError('missing X-Millicast-Signature header')
      const expected = parseSignature(signature)
      if (!expected) throw new WebhookVerificationError('malformed X-Millicast-Signature header (expected sha1=<40 hex>)')
      // Every key is tried, even after a match, so timing does not reveal which secret matched.
      let matched = false
      for (const key of keys) {
        const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, body as Uint8Array<ArrayBuffer>))
        if (timingSafeEqual(mac, expected)) matched = true
      }
      if (!matched) throw new WebhookVerificationError('signature does not match any configured secret')
    },
  }
}

/** Computes the header value the platform would send for `body`; used by tests, the CLI and benchmarks. */
export async function sign(body: Uint8Array, secret: string): Promise<string> {
  const key = await importSecret(secret, 0, ['sign'])
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, body as Uint8Array<ArrayBuffer>))
  return 'sha1=' + toHex(mac)
}

async function importSecret(secret: string, index: number, usages: KeyUsage[] = ['sign']): Promise<CryptoKey> {
  const bytes = decodeBase64(secret.trim())
  if (!bytes || bytes.byteLength === 0) throw new Error(`secret #${index + 1} is empty or not base64`)
  return crypto.subtle.importKey('raw', bytes as Uint8Array<ArrayBuffer>, { name: 'HMAC', hash: 'SHA-1' }, false, usages)
}

/** Accepts `sha1=<hex>` in either case (HTTP intermediaries never touch it, but be liberal in what we accept). */
function parseSignature(header: string): Uint8Array | undefined {
  const match = /^\s*sha1=([0-9a-f]{40})\s*$/i.exec(header)
  if (!match) return undefined
  return fromHex(match[1]!)
}

export function decodeBase64(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(text)) return undefined
  try {
    const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'))
    const out = new Uint8Array(binary.length)
    for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i)
    return out
  } catch {
    return undefined
  }
}

export function toHex(bytes: Uint8Array): string {
  let out = ''
  for (let i = 0; i < bytes.length; i++) out += bytes[i]!.toString(16).padStart(2, '0')
  return out
}

function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  return out
}
