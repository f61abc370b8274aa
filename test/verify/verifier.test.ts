import { describe, expect, it } from 'vitest'
import { createVerifier, sign, WebhookVerificationError } from '../../src/verify/verifier.ts'
import { timingSafeEqual } from '../../src/verify/constant-time.ts'
import { OTHER_SECRET, SECRET } from '../support/hooks.ts'

// docs/protocol.md §2.4 test vector
const VECTOR_BODY =
  '{"type":"feeds","event":"started","timestamp":1638463486489,"data":{"feedId":"369e4a86-f937-4254-bd9f-99dc484d2bd6","accountId":"ZG6NWV","name":"sample_stream","streamId":"ZG6NWV/sample_stream","started":1638463486359,"active":true}}'
const VECTOR_HEADER = 'sha1=9c72b312b02ca83ef4ba1779493f81b6ebdb12bb'
const WRONG_KEY_HEADER = 'sha1=f4afba7663e7a3dcc12a66043fcf456dae73fc97'
const body = new TextEncoder().encode(VECTOR_BODY)

describe('verifier', () => {
  it('matches the protocol test vector', async () => {
    expect(await sign(body, SECRET)).toBe(VECTOR_HEADER)
    await expect((await createVerifier([SECRET])).verify(body, VECTOR_HEADER)).resolves.toBeUndefined()
  })

  it('rejects the signature made with the base64 text as key (the classic mistake)', async () => {
    await expect((await createVerifier([SECRET])).verify(body, WRONG_KEY_HEADER)).rejects.toThrow(
      WebhookVerificationError,
    )
  })

  it('accepts uppercase hex and surrounding spaces', async () => {
    const verifier = await createVerifier([SECRET])
    await expect(verifier.verify(body, `  sha1=${VECTOR_HEADER.slice(5).toUpperCase()} `)).resolves.toBeUndefined()
  })

  it('rejects a missing, malformed, or prefix-less signature', async () => {
    const verifier = await createVerifier([SECRET])
    for (const header of [
      undefined,
      null,
      '',
      'sha1=',
      'sha256=' + 'a'.repeat(64),
      VECTOR_HEADER.slice(5),
      'sha1=zz' + 'a'.repeat(38),
    ]) {
      await expect(verifier.verify(body, header)).rejects.toThrow(WebhookVerificationError)
    }
  })

  it('rejects a body changed by one byte', async () => {
    const changed = body.slice()
    changed[10] = changed[10]! ^ 1
    await expect((await createVerifier([SECRET])).verify(changed, VECTOR_HEADER)).rejects.toThrow('does not match')
  })

  it('accepts either secret while rotating, and not a third', async () => {
    const verifier = await createVerifier([OTHER_SECRET, SECRET])
    await expect(verifier.verify(body, VECTOR_HEADER)).resolves.toBeUndefined()
    await expect(verifier.verify(body, await sign(body, OTHER_SECRET))).resolves.toBeUndefined()
    await expect(verifier.verify(body, await sign(body, btoa('third')))).rejects.toThrow(WebhookVerificationError)
  })

  it('verifies binary bodies (thumbnails) over their exact bytes', async () => {
    const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 1, 2, 250, 251, 0xff, 0xd9])
    const verifier = await createVerifier([SECRET])
    await expect(verifier.verify(jpeg, await sign(jpeg, SECRET))).resolves.toBeUndefined()
  })

  it('refuses to build with no secret or a non-base64 one', async () => {
    await expect(createVerifier([])).rejects.toThrow('at least one secret')
    await expect(createVerifier(['not base64!'])).rejects.toThrow('secret #1')
    await expect(createVerifier([''])).rejects.toThrow('secret #1')
  })
})

describe('timingSafeEqual', () => {
  it('compares views, honouring byteOffset', () => {
    const backing = new Uint8Array([9, 1, 2, 3, 9])
    expect(timingSafeEqual(backing.subarray(1, 4), new Uint8Array([1, 2, 3]))).toBe(true)
    expect(timingSafeEqual(backing.subarray(0, 3), new Uint8Array([1, 2, 3]))).toBe(false)
    expect(timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3]))).toBe(false)
  })
})
