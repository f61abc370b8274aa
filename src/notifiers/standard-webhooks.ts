/**
 * Signing per the Standard Webhooks spec: `webhook-id`, `webhook-timestamp` (seconds) and
 * `webhook-signature: v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>`, so receivers can verify with
 * any of its libraries. Secrets are `whsec_<base64>` (or plain base64).
 * @module
 */
import { decodeBase64, toBase64 } from '../util/encoding.ts'

export async function importStandardSecret(secret: string): Promise<CryptoKey> {
  const bytes = decodeBase64(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret)
  if (!bytes || bytes.byteLength === 0) throw new Error('not a Standard Webhooks secret (whsec_<base64>)')
  return crypto.subtle.importKey('raw', bytes as Uint8Array<ArrayBuffer>, { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
  ])
}

export async function standardWebhookHeaders(
  key: CryptoKey,
  id: string,
  timestampSeconds: number,
  body: Uint8Array,
): Promise<Record<string, string>> {
  const prefix = new TextEncoder().encode(`${id}.${timestampSeconds}.`)
  const signed = new Uint8Array(prefix.byteLength + body.byteLength)
  signed.set(prefix, 0)
  signed.set(body, prefix.byteLength)
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, signed))
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': `v1,${toBase64(mac)}`,
  }
}
