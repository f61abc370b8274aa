import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Webhook } from 'standardwebhooks'
import { createHmac } from 'node:crypto'
import { createHttpNotifier } from '../../src/notifiers/http.ts'
import { httpNotifierConfig } from '../../src/config/http-notifier.ts'
import { parseJsonHook, parseThumbnail } from '../../src/events/parse.ts'
import { createVerifier } from '../../src/verify/verifier.ts'
import { DeliveryError } from '../../src/destinations/types.ts'
import { startReceiver, type Receiver } from '../support/receiver.ts'
import { jpeg, PAYLOADS, signedThumbnail } from '../support/hooks.ts'

const SECRET = 'whsec_' + btoa('notifier-secret-for-tests-0123456789')
const ctx = { source: 'millicast', receivedAt: 1_700_000_000_000 }
let receiver: Receiver

beforeAll(async () => {
  receiver = await startReceiver()
})
afterAll(async () => {
  await receiver.close()
})

const notifier = (options: Record<string, unknown> = {}) =>
  createHttpNotifier(
    'forward',
    httpNotifierConfig.parse({ type: 'http', url: `${receiver.url}/hook?token=abc`, secret: SECRET, ...options }),
  )

async function thumbnail() {
  const hook = await signedThumbnail({ body: jpeg('notify', 30_000), tokenId: '42' })
  return parseThumbnail(hook.body, new Headers(hook.headers), ctx)
}

describe('http notifier', () => {
  it('posts a JSON envelope that a Standard Webhooks library verifies, with a stable id per event', async () => {
    receiver.requests = []
    const event = await parseJsonHook(new TextEncoder().encode(JSON.stringify(PAYLOADS.feedsStarted)), ctx)
    await notifier({ headers: { authorization: 'Bearer t' } }).deliver(event)
    await notifier().deliver(event)
    const [first, second] = receiver.requests
    expect(first!.path).toBe('/hook?token=abc')
    expect(first!.headers.authorization).toBe('Bearer t')
    const verified = new Webhook(SECRET).verify(
      first!.body.toString(),
      first!.headers as Record<string, string>,
    ) as Record<string, unknown>
    expect(verified).toMatchObject({
      id: event.id,
      type: 'feeds',
      event: 'started',
      streamId: 'ZG6NWV/sample_stream',
      feedId: event.feedId,
      data: PAYLOADS.feedsStarted.data,
    })
    expect(first!.headers['webhook-id']).toBe(`msg_${event.id}`)
    expect(second!.headers['webhook-id']).toBe(first!.headers['webhook-id'])
    expect(() =>
      new Webhook('whsec_' + btoa('some other secret')).verify(
        first!.body.toString(),
        first!.headers as Record<string, string>,
      ),
    ).toThrow()
  })

  it('includes a thumbnail as base64 in the envelope', async () => {
    receiver.requests = []
    const event = await thumbnail()
    await notifier().deliver(event)
    const envelope = JSON.parse(receiver.requests[0]!.body.toString()) as { body: string; tokenId: string }
    expect(Buffer.from(envelope.body, 'base64').equals(Buffer.from(event.body))).toBe(true)
    expect(envelope.tokenId).toBe('42')
  })

  it('forwards the original request re-signed with its own secret', async () => {
    receiver.requests = []
    const event = await thumbnail()
    await notifier({ mode: 'original' }).deliver(event)
    const json = await parseJsonHook(new TextEncoder().encode(JSON.stringify(PAYLOADS.mediaCompleted)), ctx)
    await notifier({ mode: 'original' }).deliver(json)
    expect(
      new Webhook(SECRET).verify(receiver.requests[1]!.body, receiver.requests[1]!.headers as Record<string, string>),
    ).toEqual(PAYLOADS.mediaCompleted)
    const request = receiver.requests[0]!
    expect(request.body.equals(Buffer.from(event.body))).toBe(true)
    expect(request.headers).toMatchObject({
      'content-type': 'image/jpeg',
      'x-millicast-feed-id': event.feedId,
      'x-millicast-stream-id': event.streamId,
      'x-millicast-timestamp': String(event.timestamp),
      'x-millicast-token-id': '42',
    })
    const platformStyle = await createVerifier([SECRET.slice('whsec_'.length)])
    await expect(
      platformStyle.verify(new Uint8Array(request.body), request.headers['x-millicast-signature'] as string),
    ).resolves.toBeUndefined()
    // Standard Webhooks signs the raw bytes. The npm library turns a Buffer into UTF-8 text first, which a JPEG does
    // not survive, so binary bodies are checked with node:crypto here (JSON bodies are checked with the library).
    const [, signature] = String(request.headers['webhook-signature']).split(',')
    const signed = Buffer.concat([
      Buffer.from(`${request.headers['webhook-id']}.${request.headers['webhook-timestamp']}.`),
      request.body,
    ])
    const key = Buffer.from(SECRET.slice('whsec_'.length), 'base64')
    expect(signature).toBe(createHmac('sha256', key).update(signed).digest('base64'))
  })

  it('classifies failures for the spool, without the URL path (it may hold a token)', async () => {
    const event = await thumbnail()
    const cases: Array<[number, boolean, number | undefined]> = [
      [503, false, undefined],
      [429, false, 2_000],
      [400, true, undefined],
      [401, true, undefined],
    ]
    for (const [status, permanent, retryAfterMs] of cases) {
      receiver.answer = () => ({
        status,
        headers: status === 429 ? { 'retry-after': '2' } : ({} as Record<string, string>),
      })
      const error = await notifier()
        .deliver(event)
        .catch((e: unknown) => e)
      expect(error).toBeInstanceOf(DeliveryError)
      expect(error).toMatchObject({ permanent, retryAfterMs })
      expect((error as Error).message).not.toContain('token=abc')
    }
    receiver.answer = () => ({})
    const unreachable = await createHttpNotifier(
      'gone',
      httpNotifierConfig.parse({ type: 'http', url: 'http://127.0.0.1:9/x' }),
    )
      .deliver(event)
      .catch((e: unknown) => e)
    expect(unreachable).toMatchObject({ permanent: false })
  })

  it('refuses original mode without a secret: the receiver could not tell the forward from an unverified request', async () => {
    const result = httpNotifierConfig.safeParse({ type: 'http', url: `${receiver.url}/in`, mode: 'original' })
    expect(result.success).toBe(false)
    expect(result.error!.issues).toEqual([
      expect.objectContaining({ path: ['secret'], message: expect.stringContaining('original mode') }),
    ])
    expect(httpNotifierConfig.safeParse({ type: 'http', url: `${receiver.url}/in` }).success).toBe(true)
    // And the notifier itself never forwards the platform's headers unsigned, whatever config reaches it.
    const unchecked = {
      type: 'http',
      url: `${receiver.url}/in`,
      mode: 'original',
      headers: {},
      includeImage: true,
    } as const
    await expect(createHttpNotifier('raw', unchecked).deliver(await thumbnail())).rejects.toThrow(/secret/)
  })
})
