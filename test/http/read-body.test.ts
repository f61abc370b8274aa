import { describe, expect, it } from 'vitest'
import { InFlightBytes, readBodyLimited } from '../../src/http/read-body.ts'

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

describe('readBodyLimited: bytes in flight and the body deadline', () => {
  /** A body of `chunks` x `size` bytes that then, with `stall`, never ends. */
  function body(chunks: number, size: number, stall = false): { request: Request; pulled: () => number; cancelled: () => boolean } {
    let pulled = 0
    let cancelled = false
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulled >= chunks) return stall ? new Promise<void>(() => {}) : controller.close()
        pulled++
        controller.enqueue(new Uint8Array(size))
      },
      cancel() { cancelled = true },
    }, { highWaterMark: 0 })
    return { request: new Request('http://x/', { method: 'POST', body: stream, duplex: 'half' } as RequestInit), pulled: () => pulled, cancelled: () => cancelled }
  }

  it('takes a declared length whole before reading, and refuses it (503, nothing read) when it does not fit', async () => {
    const budget = new InFlightBytes(10_000)
    const first = budget.lease()
    const a = body(6, 1000)
    a.request.headers.set('content-length', '6000')
    expect((await readBodyLimited(a.request, 8000, undefined, { inFlight: first })).byteLength).toBe(6000)
    expect(budget.used).toBe(6000)

    const second = budget.lease()
    const b = body(6, 1000)
    b.request.headers.set('content-length', '6000')
    await expect(readBodyLimited(b.request, 8000, undefined, { inFlight: second })).rejects.toMatchObject({
      status: 503, reason: 'busy', headers: { 'retry-after': expect.stringMatching(/^\d+$/) },
    })
    expect(b.pulled()).toBe(0)
    expect(budget.used).toBe(6000)
    first.release()
    first.release() // twice is harmless
    expect(budget.used).toBe(0)
  })

  it('counts a chunked body as it streams and cuts it where the budget runs out', async () => {
    const budget = new InFlightBytes(10_000)
    const other = budget.lease()
    expect(other.take(7000)).toBe(true)
    const lease = budget.lease()
    const chunked = body(8, 1000)
    await expect(readBodyLimited(chunked.request, 8000, undefined, { inFlight: lease })).rejects.toMatchObject({ status: 503 })
    expect(chunked.pulled()).toBe(4) // 3 fit in the 3000 left; the 4th is refused and the read cancelled
    expect(chunked.cancelled()).toBe(true)
    expect(lease.held).toBe(3000)
    lease.release()
    other.release()
    expect(budget.used).toBe(0)
  })

  it('answers 408 to a body that does not arrive within timeoutMs, and cancels the read', async () => {
    const stalled = body(2, 100, true)
    stalled.request.headers.set('content-length', '1000')
    const lease = new InFlightBytes(10_000).lease()
    await expect(readBodyLimited(stalled.request, 8000, undefined, { inFlight: lease, timeoutMs: 50 })).rejects.toMatchObject({ status: 408, reason: 'body_timeout' })
    expect(stalled.pulled()).toBe(2)
    expect(stalled.cancelled()).toBe(true)
    expect(lease.held).toBe(1000) // the caller gives it back
  })

  it('answers 408 even when the pending read of a raw chunk iterator (Node, Bun) never settles', async () => {
    const request = new Request('http://x/', { method: 'POST', body: 'x', headers: { 'content-length': '10' } })
    const raw = { async *[Symbol.asyncIterator]() {
      yield new Uint8Array(5)
      await new Promise(() => {})
    } }
    await expect(readBodyLimited(request, 100, undefined, { timeoutMs: 50, raw })).rejects.toMatchObject({ status: 408 })
  })
})

describe('readBodyLimited: a client that goes away', () => {
  it('is a 400 (body_aborted), not an internal error', async () => {
    let sent = 0
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ === 0) return controller.enqueue(new Uint8Array(10))
        controller.error(new Error('The connection was closed.'))
      },
    }, { highWaterMark: 0 })
    const request = new Request('http://x/', { method: 'POST', body: stream, duplex: 'half' } as RequestInit)
    await expect(readBodyLimited(request, 100)).rejects.toMatchObject({ status: 400, reason: 'body_aborted' })
  })
})
