/**
 * The accept path's one read: the signature's HMAC and the body's CRC-32 computed chunk by chunk as the body
 * streams in give the same answers as over the whole body; event ids come from the verified signature.
 */
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createVerifier, parseSignature, sign, WebhookVerificationError } from '../../src/verify/verifier.ts'
import { readBodyLimited } from '../../src/http/read-body.ts'
import { parseJsonHook, parseThumbnail } from '../../src/events/parse.ts'
import { bodyCrc, bodyMatches } from '../../src/events/body-check.ts'
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

describe('event ids and body checks', () => {
  const ctx = { source: 'millicast', receivedAt: 1 }
  const macOf = async (body: Uint8Array, secret = SECRET) => parseSignature(await sign(body, secret))!

  it('a CRC-32 fed in chunks is the CRC-32 of the whole body, and it checks the body read back', async () => {
    const hook = await signedThumbnail({ body: jpeg('id-check', 150_000) })
    const crc = bodyCrc()
    for (let i = 0; i < hook.body.byteLength; i += 65_536) crc.update(hook.body.subarray(i, i + 65_536))
    const streamed = await parseThumbnail(hook.body, new Headers(hook.headers), { ...ctx, bodyCrc32: crc.value() })
    const whole = await parseThumbnail(hook.body, new Headers(hook.headers), ctx)
    expect(streamed.bodyCrc32).toBe(whole.bodyCrc32)
    expect(bodyMatches(streamed, hook.body)).toBe(true)
    const rotten = hook.body.slice()
    rotten[100_000] = rotten[100_000]! ^ 1
    expect(bodyMatches(streamed, rotten)).toBe(false)
    // What hookcast queued before 0.2 (the body's SHA-256) is still checked.
    const old = { bodySha256: createHash('sha256').update(hook.body).digest('hex') }
    expect(bodyMatches(old, hook.body)).toBe(true)
    expect(bodyMatches(old, rotten)).toBe(false)
    expect(bodyMatches({}, hook.body)).toBe(false)
  })

  it('the id of a verified hook comes from its signature: same body and secret, same id; any change, another', async () => {
    const json = new TextEncoder().encode(JSON.stringify(PAYLOADS.feedsStarted))
    const id = async (body: Uint8Array, secret = SECRET) =>
      (await parseJsonHook(body, { ...ctx, signature: await macOf(body, secret) })).id
    expect(await id(json)).toBe(await id(json))
    expect(await id(json)).toMatch(/^[0-9a-f]{24}$/)
    expect(await id(json, OTHER_SECRET)).not.toBe(await id(json))
    expect(await id(new TextEncoder().encode(JSON.stringify({ ...PAYLOADS.feedsStarted, timestamp: 1 })))).not.toBe(
      await id(json),
    )
    // Unverified (the CLI's own parsing, tests): the body's SHA-256.
    expect((await parseJsonHook(json, ctx)).id).toBe(createHash('sha256').update(json).digest('hex').slice(0, 24))

    // A thumbnail's headers are part of its identity: the same JPEG for another stream is another delivery.
    const body = jpeg('same picture')
    const a = await signedThumbnail({ body, streamId: 'acct/a' })
    const b = await signedThumbnail({ body, streamId: 'acct/b' })
    const thumbId = async (hook: typeof a) =>
      (await parseThumbnail(hook.body, new Headers(hook.headers), { ...ctx, signature: await macOf(hook.body) })).id
    expect(await thumbId(a)).toBe(await thumbId(a))
    expect(await thumbId(a)).not.toBe(await thumbId(b))
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
    await expect(readBodyLimited(large, 16 * 1024, undefined, { raw: source(64) })).rejects.toMatchObject({
      status: 413,
    })
    expect(pulled).toBe(17)
    expect(returned).toBe(true)
  })
})

describe('a body that arrives whole', () => {
  const once = (chunk: Uint8Array): AsyncIterable<Uint8Array> => ({
    async *[Symbol.asyncIterator]() {
      yield chunk
    },
  })

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
    await expect(readBodyLimited(short, 1 << 20, undefined, { raw: once(new Uint8Array(100)) })).rejects.toMatchObject({
      status: 400,
      reason: 'truncated_body',
    })
    const none = new Request('http://x/', { method: 'POST', headers: { 'content-length': '10' } })
    await expect(
      readBodyLimited(none, 1 << 20, undefined, { raw: { async *[Symbol.asyncIterator]() {} } }),
    ).rejects.toMatchObject({ status: 400 })
  })
})
