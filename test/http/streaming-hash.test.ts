/**
 * The accept path's one read: the signature's HMAC and the event's SHA-256 computed chunk by chunk as the body
 * streams in give the same answers as hashing the whole body.
 */
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createVerifier, sign, WebhookVerificationError } from '../../src/verify/verifier.ts'
import { readBodyLimited } from '../../src/http/read-body.ts'
import { bodyHash, parseJsonHook, parseThumbnail } from '../../src/events/parse.ts'
import { jpeg, OTHER_SECRET, PAYLOADS, SECRET, signedThumbnail } from '../support/hooks.ts'

function chunked(bytes: Uint8Array, size: number): Request {
  let offset = 0
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.byteLength) return controller.close()
      controller.enqueue(bytes.slice(offset, offset + size))
      offset += size
    },
  })
  return new Request('http://x/', { method: 'POST', body, duplex: 'half' } as RequestInit)
}

describe('streaming verification', () => {
  const body = jpeg('streamed', 200_000)

  it('accepts a body fed in chunks under either secret, and refuses a changed byte', async () => {
    const verifier = await createVerifier([OTHER_SECRET, SECRET])
    for (const secret of [SECRET, OTHER_SECRET]) {
      const signature = await sign(body, secret)
      const check = verifier.start()
      const seen: number[] = []
      const read = await readBodyLimited(chunked(body, 65_536), 1 << 20, (chunk) => {
        seen.push(chunk.byteLength)
        check.update(chunk)
      })
      expect(read).toEqual(body)
      expect(seen.length).toBeGreaterThan(1)
      expect(() => check.verify(signature)).not.toThrow()
    }
    const changed = body.slice()
    changed[100_000] = changed[100_000]! ^ 1
    const check = verifier.start()
    for (let i = 0; i < changed.byteLength; i += 10_000) check.update(changed.subarray(i, i + 10_000))
    const signature = await sign(body, SECRET)
    expect(() => check.verify(signature)).toThrow(WebhookVerificationError)
  })

  it('refuses a missing or malformed signature', async () => {
    const check = (await createVerifier([SECRET])).start()
    check.update(body)
    expect(() => check.verify(undefined)).toThrow('missing')
    expect(() => check.verify('sha1=xyz')).toThrow('malformed')
  })
})

describe('event ids from a streamed SHA-256', () => {
  const ctx = { source: 'millicast', receivedAt: 1 }

  it('gives the same id and body hash as hashing the whole body', async () => {
    const hook = await signedThumbnail({ body: jpeg('id-check', 150_000) })
    const digest = bodyHash()
    for (let i = 0; i < hook.body.byteLength; i += 65_536) digest.update(hook.body.subarray(i, i + 65_536))
    const streamed = await parseThumbnail(hook.body, new Headers(hook.headers), { ...ctx, bodySha256: digest.digest() })
    const whole = await parseThumbnail(hook.body, new Headers(hook.headers), ctx)
    expect(streamed.id).toBe(whole.id)
    expect(streamed.bodySha256).toBe(createHash('sha256').update(hook.body).digest('hex'))

    const json = new TextEncoder().encode(JSON.stringify(PAYLOADS.feedsStarted))
    const jsonDigest = bodyHash()
    jsonDigest.update(json)
    const event = await parseJsonHook(json, { ...ctx, bodySha256: jsonDigest.digest() })
    expect(event.id).toBe((await parseJsonHook(json, ctx)).id)
    expect(event.id).toBe(createHash('sha256').update(json).digest('hex').slice(0, 24))
  })
})

describe('bodies read from the chunk iterator an adapter passes in the bindings', () => {
  it('reads them whole, and stops pulling as soon as the limit is passed, without a Web stream', async () => {
    let pulled = 0
    let returned = false
    const source = (count: number): AsyncIterable<Uint8Array> => ({
      [Symbol.asyncIterator]: () => ({
        async next() {
          if (pulled >= count) return { done: true, value: undefined }
          pulled++
          return { done: false, value: new Uint8Array(1024).fill(pulled) }
        },
        async return() {
          returned = true
          return { done: true, value: undefined }
        },
      }),
    })
    const small = new Request('http://x/', { method: 'POST', headers: { 'content-length': String(3 * 1024) } })
    const body = await readBodyLimited(small, 1 << 20, undefined, { raw: source(3) })
    expect(body.byteLength).toBe(3 * 1024)
    expect(body[2048]).toBe(3)

    pulled = 0
    const large = new Request('http://x/', { method: 'POST' })
    await expect(readBodyLimited(large, 16 * 1024, undefined, { raw: source(64) })).rejects.toMatchObject({ status: 413 })
    expect(pulled).toBe(17)
    expect(returned).toBe(true)
  })
})

describe('a body that arrives whole', () => {
  const once = (chunk: Uint8Array): AsyncIterable<Uint8Array> => ({ async *[Symbol.asyncIterator]() { yield chunk } })

  it('is kept as it is when it owns its memory, and copied out of a larger buffer otherwise', async () => {
    const whole = new Uint8Array(5000).fill(7)
    const owned = new Request('http://x/', { method: 'POST', headers: { 'content-length': '5000' } })
    expect(await readBodyLimited(owned, 1 << 20, undefined, { raw: once(whole) })).toBe(whole)

    const slice = new Uint8Array(65_536).fill(9).subarray(100, 5100)
    const sliced = new Request('http://x/', { method: 'POST', headers: { 'content-length': '5000' } })
    const copy = await readBodyLimited(sliced, 1 << 20, undefined, { raw: once(slice) })
    expect(copy).not.toBe(slice)
    expect(copy.buffer.byteLength).toBe(5000)
    expect(copy).toEqual(slice)
  })

  it('is refused when it ends before its declared length', async () => {
    const short = new Request('http://x/', { method: 'POST', headers: { 'content-length': '5000' } })
    await expect(readBodyLimited(short, 1 << 20, undefined, { raw: once(new Uint8Array(100)) })).rejects.toMatchObject({ status: 400, reason: 'truncated_body' })
    const none = new Request('http://x/', { method: 'POST', headers: { 'content-length': '10' } })
    await expect(readBodyLimited(none, 1 << 20, undefined, { raw: { async *[Symbol.asyncIterator]() {} } })).rejects.toMatchObject({ status: 400 })
  })
})
