import { describe, expect, it } from 'vitest'
import { MIN_CHUNK_COST, readBodyLimited } from '../../src/http/read-body.ts'
import { InFlightBytes, SMALL_BODY_BYTES } from '../../src/http/in-flight.ts'
import { HttpError } from '../../src/http/errors.ts'
import { eventually } from '../support/wait.ts'

function streamed(chunks: number, chunkSize: number): { request: Request; pulled: () => number } {
  let pulled = 0
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled >= chunks) return controller.close()
      pulled++
      controller.enqueue(new Uint8Array(chunkSize).fill(pulled % 256))
    },
  })
  return {
    request: new Request('http://x/', { method: 'POST', body, duplex: 'half' } as RequestInit),
    pulled: () => pulled,
  }
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
  function body(
    chunks: number,
    size: number,
    stall = false,
  ): { request: Request; pulled: () => number; cancelled: () => boolean } {
    let pulled = 0
    let cancelled = false
    const stream = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          if (pulled >= chunks) return stall ? new Promise<void>(() => {}) : controller.close()
          pulled++
          controller.enqueue(new Uint8Array(size))
        },
        cancel() {
          cancelled = true
        },
      },
      { highWaterMark: 0 },
    )
    return {
      request: new Request('http://x/', { method: 'POST', body: stream, duplex: 'half' } as RequestInit),
      pulled: () => pulled,
      cancelled: () => cancelled,
    }
  }

  const MiB = 1024 * 1024
  const budgetOf = (total: number, maxBodyBytes = total) => new InFlightBytes({ total, maxBodyBytes })
  const cutError = () => new HttpError(503, 'busy', 'cut')

  it('holds what arrived, not what was declared: 16 MiB declared and one byte sent hold 1 KiB', async () => {
    const budget = budgetOf(64 * MiB, 16 * MiB)
    const lease = budget.lease('203.0.113.9', cutError)
    const idle = body(1, 1, true)
    idle.request.headers.set('content-length', String(16 * MiB))
    const read = readBodyLimited(idle.request, 16 * MiB, undefined, { inFlight: lease, timeoutMs: 200 })
    await expect(read).rejects.toMatchObject({ status: 408 })
    expect(idle.pulled()).toBe(1)
    expect(lease.held).toBe(MIN_CHUNK_COST) // the least a chunk costs
    expect(budget.used).toBe(lease.held)
    lease.release()
    expect(budget.used).toBe(0)
  })

  it('reads a declared body as its chunks arrive, into one buffer of exactly its length', async () => {
    const lease = budgetOf(MiB).lease('203.0.113.9', cutError)
    const big = body(10, 30_000)
    big.request.headers.set('content-length', '300000')
    const bytes = await readBodyLimited(big.request, MiB, undefined, { inFlight: lease })
    expect(bytes.byteLength).toBe(300_000)
    expect(bytes.buffer.byteLength).toBe(300_000)
    expect(lease.held).toBe(300_000)
  })

  it('takes a small declared body whole before reading; 503, nothing read, when nothing has room', async () => {
    const budget = budgetOf(10 * SMALL_BODY_BYTES)
    const other = budget.lease('198.51.100.1', cutError)
    expect(other.take(10 * SMALL_BODY_BYTES, false)).toBe(true) // the budget is full
    const first = budget.lease('203.0.113.9', cutError)
    const a = body(6, 1000)
    a.request.headers.set('content-length', '6000')
    const reading = readBodyLimited(a.request, 8000, undefined, { inFlight: first })
    expect(first.held).toBe(6000) // taken (from the reserve) before a byte was read
    expect((await reading).byteLength).toBe(6000)

    // The reserve holds at most 64 KiB per client: a small body over that from the same client does not fit.
    const second = budget.lease('203.0.113.9', cutError)
    const b = body(60, 1000)
    b.request.headers.set('content-length', '60000')
    await expect(readBodyLimited(b.request, SMALL_BODY_BYTES, undefined, { inFlight: second })).rejects.toMatchObject({
      status: 503,
      reason: 'busy',
      headers: { 'retry-after': expect.stringMatching(/^\d+$/) },
    })
    expect(b.pulled()).toBe(0)
    first.release()
    first.release() // twice is harmless
    other.release()
    expect(budget.used).toBe(0)
  })

  it('counts a chunked body as it streams and cuts it where the budget runs out', async () => {
    const budget = budgetOf(400_000)
    const other = budget.lease('198.51.100.1', cutError)
    expect(other.take(200_000, false)).toBe(true)
    const lease = budget.lease('198.51.100.1', cutError)
    const chunked = body(40, 10_000)
    const read = readBodyLimited(chunked.request, 400_000, undefined, { inFlight: lease })
    await expect(read).rejects.toMatchObject({ status: 503 })
    expect(chunked.pulled()).toBe(21) // 20 chunks fit in the 200 KB left; the 21st does not
    expect(chunked.cancelled()).toBe(true)
    expect(lease.held).toBe(200_000)
    lease.release()
    other.release()
    expect(budget.used).toBe(0)
  })

  it('answers 503 to a body the budget cuts to make room for another client, while it waits for bytes', async () => {
    const budget = budgetOf(4 * MiB, MiB)
    const lease = budget.lease('203.0.113.9', cutError)
    const hog = body(1, 4 * MiB, true) // all of the budget in one chunk, then nothing
    const read = readBodyLimited(hog.request, 4 * MiB, undefined, { inFlight: lease })
    await eventually(() => lease.held === 4 * MiB)
    expect(budget.lease('198.51.100.1', cutError).take(MiB, false)).toBe(true)
    await expect(read).rejects.toMatchObject({ status: 503, reason: 'busy' })
    expect(hog.cancelled()).toBe(true)
  })

  it('answers 408 to a body that does not arrive within timeoutMs, and cancels the read', async () => {
    const stalled = body(2, 100, true)
    stalled.request.headers.set('content-length', '1000')
    const lease = budgetOf(10_000).lease('203.0.113.9', cutError)
    await expect(
      readBodyLimited(stalled.request, 8000, undefined, { inFlight: lease, timeoutMs: 50 }),
    ).rejects.toMatchObject({ status: 408, reason: 'body_timeout' })
    expect(stalled.pulled()).toBe(2)
    expect(stalled.cancelled()).toBe(true)
    expect(lease.held).toBe(1000) // the caller gives it back
  })

  it('answers 408 even when the pending read of a raw chunk iterator (Node, Bun) never settles', async () => {
    const request = new Request('http://x/', { method: 'POST', body: 'x', headers: { 'content-length': '10' } })
    const raw = {
      async *[Symbol.asyncIterator]() {
        yield new Uint8Array(5)
        await new Promise(() => {})
      },
    }
    await expect(readBodyLimited(request, 100, undefined, { timeoutMs: 50, raw })).rejects.toMatchObject({
      status: 408,
    })
  })
})

describe('readBodyLimited: a client that goes away', () => {
  it('is a 400 (body_aborted), not an internal error', async () => {
    let sent = 0
    const stream = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          if (sent++ === 0) return controller.enqueue(new Uint8Array(10))
          controller.error(new Error('The connection was closed.'))
        },
      },
      { highWaterMark: 0 },
    )
    const request = new Request('http://x/', { method: 'POST', body: stream, duplex: 'half' } as RequestInit)
    await expect(readBodyLimited(request, 100)).rejects.toMatchObject({ status: 400, reason: 'body_aborted' })
  })
})
