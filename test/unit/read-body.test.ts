import { describe, expect, it } from 'vitest'
import { readBodyLimited } from '../../src/http/read-body.ts'

function streamed(chunks: number, chunkSize: number): { request: Request; pulled: () => number } {
  let pulled = 0
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled >= chunks) return controller.close()
      pulled++
      controller.enqueue(new Uint8Array(chunkSize).fill(pulled % 256))
    },
  })
  return { request: new Request('http://x/', { method: 'POST', body, duplex: 'half' } as RequestInit), pulled: () => pulled }
}

describe('readBodyLimited', () => {
  it('reads a declared-length body into exactly its bytes', async () => {
    const bytes = new Uint8Array([1, 2, 3, 4, 5])
    const request = new Request('http://x/', { method: 'POST', body: bytes, headers: { 'content-length': '5' } })
    expect(await readBodyLimited(request, 10)).toEqual(bytes)
  })

  it('joins a chunked body', async () => {
    const { request } = streamed(3, 4)
    expect(Array.from(await readBodyLimited(request, 100))).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3])
  })

  it('refuses a declared length over the limit without reading', async () => {
    const { request, pulled } = streamed(64, 1024)
    request.headers.set('content-length', String(64 * 1024))
    await expect(readBodyLimited(request, 16 * 1024)).rejects.toMatchObject({ status: 413 })
    expect(pulled()).toBeLessThanOrEqual(1)
  })

  it('stops pulling a chunked body as soon as it passes the limit', async () => {
    const { request, pulled } = streamed(64, 1024)
    await expect(readBodyLimited(request, 16 * 1024)).rejects.toMatchObject({ status: 413, reason: 'body_too_large' })
    expect(pulled()).toBeLessThanOrEqual(18)
  })
})
