/**
 * The HTTP notifier: POSTs each routed event to a URL, either as the platform sent it (`mode: original`: the
 * exact body and the platform's headers, re-signed with this notifier's secret) or as a JSON envelope of the
 * parsed event (`mode: envelope`). Signed per Standard Webhooks, with a stable `webhook-id` per event so
 * receivers can drop the redeliveries that at-least-once delivery implies. Original mode always re-signs, so it
 * needs a secret: the platform's request passed on unsigned would look like one nobody verified.
 * @module
 */
import type { HookEvent } from '../events/types.ts'
import { DeliveryError, type Destination } from '../destinations/types.ts'
import { httpFailure } from '../destinations/failures.ts'
import { sign } from '../verify/verifier.ts'
import { importStandardSecret, standardWebhookHeaders } from './standard-webhooks.ts'
import { toBase64 } from '../util/encoding.ts'
import { reachable } from '../util/reachable.ts'
import type { HttpNotifierConfig } from '../config/http-notifier.ts'
import { requestHeaders } from './request-headers.ts'

export function createHttpNotifier(name: string, config: HttpNotifierConfig): Destination {
  let key: Promise<CryptoKey> | undefined
  // Only the origin goes into error messages: URLs often carry tokens in their path.
  const where = `${name} (${new URL(config.url).origin})`

  return {
    name,
    kind: 'notifier',
    check: () => reachable(config.url),
    async deliver(event, signal, traceparent) {
      const { body, headers } =
        config.mode === 'original'
          ? await originalRequest(event, config.secret)
          : envelopeRequest(event, config.includeImage)
      if (config.secret) {
        key ??= importStandardSecret(config.secret)
        Object.assign(
          headers,
          await standardWebhookHeaders(await key, `msg_${event.id}`, Math.floor(Date.now() / 1000), body),
        )
      }
      if (traceparent) headers.traceparent = traceparent // W3C Trace Context: the receiver's spans join the trace
      const sent = requestHeaders({ ...config.headers, ...headers }, where)
      let response: Response
      try {
        response = await fetch(config.url, {
          method: 'POST',
          headers: sent,
          body: body as Uint8Array<ArrayBuffer>,
          ...(signal ? { signal } : {}),
        })
      } catch (error) {
        throw new DeliveryError(`${where} unreachable: ${(error as Error).message}`, { cause: error })
      }
      await response.body?.cancel().catch(() => {})
      if (!response.ok) throw httpFailure(response.status, where, response.headers.get('retry-after'))
    },
  }
}

async function originalRequest(
  event: HookEvent,
  secret: string | undefined,
): Promise<{ body: Uint8Array; headers: Record<string, string> }> {
  if (!secret) throw new DeliveryError('original mode needs a secret to re-sign the request', { permanent: true })
  const headers: Record<string, string> = { 'content-type': event.contentType }
  if (event.contentType === 'image/jpeg') {
    Object.assign(headers, {
      'x-millicast-feed-id': event.feedId ?? '',
      'x-millicast-stream-id': event.streamId ?? '',
      'x-millicast-timestamp': String(event.timestamp),
      ...(event.tokenId ? { 'x-millicast-token-id': event.tokenId } : {}),
    })
  }
  headers['x-millicast-signature'] = await sign(event.body, secret.replace(/^whsec_/, ''))
  return { body: event.body, headers }
}

function envelopeRequest(
  event: HookEvent,
  includeImage: boolean,
): { body: Uint8Array; headers: Record<string, string> } {
  const { body, bodyCrc32: _crc, bodySha256: _hash, traceparent: _trace, data, ...fields } = event
  const envelope: Record<string, unknown> = { ...fields }
  if (data) envelope.data = data
  if (event.contentType === 'image/jpeg' && includeImage) envelope.body = toBase64(body)
  return { body: new TextEncoder().encode(JSON.stringify(envelope)), headers: { 'content-type': 'application/json' } }
}
