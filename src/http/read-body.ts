/**
 * Reads a request body once, as bytes, never holding more than `limit` bytes.
 *
 * A declared Content-Length over the limit is refused before reading anything; a chunked body is counted as it
 * streams and the read is cancelled as soon as it passes the limit, so a 64 MiB upload to a 16 MiB limit costs
 * at most 16 MiB of memory.
 *
 * `onChunk` sees every chunk as it arrives, in order, before the next one is read: hashes (the signature's HMAC,
 * the event's SHA-256) are computed in the same pass, while the chunk is still in the CPU cache.
 * @module
 */
import { HttpError } from './errors.ts'

/**
 * Bodies an adapter hands over as the server's own chunk iterator (Node's IncomingMessage), by request, so they
 * are read without a Web stream built around them. Returning from the iterator must stop reading without closing
 * the connection, so a 413 can still be answered.
 */
export const rawBodies = new WeakMap<Request, AsyncIterable<Uint8Array>>()

interface Chunks {
  next(): Promise<IteratorResult<Uint8Array, unknown>>
  /** Stops reading early. */
  cancel(): Promise<void>
  release(): void
}

function chunksOf(request: Request): Chunks | undefined {
  const raw = rawBodies.get(request)
  if (raw) {
    const iterator = raw[Symbol.asyncIterator]()
    return { next: () => iterator.next(), cancel: async () => { await iterator.return?.() }, release() {} }
  }
  if (!request.body) return undefined
  const reader = request.body.getReader()
  return { next: () => reader.read(), cancel: () => reader.cancel(), release: () => reader.releaseLock() }
}

export async function readBodyLimited(request: Request, limit: number, onChunk?: (chunk: Uint8Array) => void): Promise<Uint8Array> {
  const declared = request.headers.get('content-length')
  const length = declared === null ? undefined : Number(declared)
  if (length !== undefined && Number.isFinite(length) && length > limit) throw tooLarge(limit)
  const reader = chunksOf(request)
  if (!reader) return new Uint8Array(0)

  // When the length is declared we read straight into one buffer; otherwise chunks are joined once at the end.
  const declaredLength = length !== undefined && Number.isInteger(length) && length >= 0 ? length : undefined
  let exact: Uint8Array | undefined
  const chunks: Uint8Array[] = []
  let received = 0
  try {
    for (;;) {
      const { done, value } = await reader.next()
      if (done) break
      if (received + value.byteLength > limit) {
        await reader.cancel().catch(() => {})
        throw tooLarge(limit)
      }
      onChunk?.(value)
      if (declaredLength !== undefined && !exact) {
        // The whole body in one chunk that owns its memory (a runtime that buffers bodies natively) is kept as is.
        exact = received === 0 && value.byteLength === declaredLength && ownsBuffer(value) ? value : new Uint8Array(declaredLength)
        if (exact === value) {
          received = value.byteLength
          continue
        }
      }
      if (exact && received + value.byteLength <= exact.byteLength) exact.set(value, received)
      else chunks.push(value)
      received += value.byteLength
    }
  } finally {
    reader.release()
  }
  if (declaredLength !== undefined && chunks.length === 0) {
    if (received === declaredLength) return exact ?? new Uint8Array(0)
    throw new HttpError(400, 'truncated_body', `body ended after ${received} of ${declaredLength} declared bytes`)
  }
  return join(exact ? [exact.subarray(0, Math.min(received, exact.byteLength)), ...chunks] : chunks, received)
}

/** True when `view` is all of its ArrayBuffer, so keeping it keeps nothing else alive. */
function ownsBuffer(view: Uint8Array): boolean {
  return view.byteOffset === 0 && view.buffer.byteLength === view.byteLength
}

function join(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!
  const out = new Uint8Array(total)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.byteLength
  }
  return out
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, 'body_too_large', `body is larger than the ${limit}-byte limit (server.maxBodyBytes)`)
}
