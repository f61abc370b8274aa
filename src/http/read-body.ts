/**
 * Reads a request body once, as bytes, within three bounds that hold the same on every runtime: its size
 * (`server.maxBodyBytes`, 413), the bytes all bodies hold at once (`server.maxInFlightBytes`, 503) and time
 * (`server.bodyTimeout`, 408). A body refused on the way is no longer read.
 * @module
 */
import { HttpError } from './errors.ts'
import { SMALL_BODY_BYTES, type InFlightLease } from './in-flight.ts'

interface Chunks {
  next(): Promise<IteratorResult<Uint8Array, unknown>>
  /** Stops reading early. */
  cancel(): Promise<void>
  release(): void
}

function chunksOf(request: Request, raw: AsyncIterable<Uint8Array> | undefined): Chunks | undefined {
  if (raw) {
    const iterator = raw[Symbol.asyncIterator]()
    return {
      next: () => iterator.next(),
      cancel: async () => {
        await iterator.return?.()
      },
      release() {},
    }
  }
  if (!request.body) return undefined
  const reader = request.body.getReader()
  return { next: () => reader.read(), cancel: () => reader.cancel(), release: () => reader.releaseLock() }
}

interface ReadOptions {
  /** This request's share of the bytes in flight; the caller releases it when done with the body. */
  inFlight?: InFlightLease
  /** The whole body must arrive within this many milliseconds of the start of the read: 408 otherwise. */
  timeoutMs?: number
  /** The runtime's own chunk iterator for the body (see Bindings.body); the Request's stream otherwise. */
  raw?: AsyncIterable<Uint8Array>
}

/** What a chunk kept in a list costs at least, for its bookkeeping: a trickle of tiny chunks is not free. */
export const MIN_CHUNK_COST = 1024

/**
 * The body, at most `limit` bytes. A declared Content-Length over the limit is refused before reading anything; a
 * chunked body is counted as it streams and the read is cancelled as soon as it passes the limit, so a 64 MiB upload
 * to a 16 MiB limit costs at most 16 MiB of memory.
 *
 * - `inFlight`: the memory a body holds is taken from the shared budget as its bytes arrive, never for bytes not yet
 *   sent (503 when it does not fit, or when the budget cuts the body to make room for another client's): a client
 *   that declares 16 MiB and sends one byte holds one (counted as 1 KiB, the least a chunk costs). Only a small body
 *   (at most 64 KiB) is taken whole as soon as it starts, and read into one buffer of its declared length.
 * - `timeoutMs`: a body not complete within it is refused with 408, so a client trickling bytes holds neither memory
 *   nor a request for long (Deno.serve has no timeout of its own).
 *
 * `onChunk` sees every chunk as it arrives, in order, before the next one is read: the signature's HMAC and the
 * body's CRC are computed in the same pass, while the chunk is still in the CPU cache.
 */
export async function readBodyLimited(
  request: Request,
  limit: number,
  onChunk?: (chunk: Uint8Array) => void,
  options: ReadOptions = {},
): Promise<Uint8Array> {
  const { inFlight, timeoutMs, raw } = options
  const declared = request.headers.get('content-length')
  const length = declared === null ? undefined : Number(declared)
  if (length !== undefined && Number.isFinite(length) && length > limit) throw tooLarge(limit)
  const declaredLength = length !== undefined && Number.isInteger(length) && length >= 0 ? length : undefined
  const small = declaredLength !== undefined && declaredLength <= SMALL_BODY_BYTES
  // A small body is taken whole before reading (a runtime may buffer it in one piece); any other as it arrives.
  if (small && inFlight && !inFlight.take(declaredLength, true)) throw busy()
  const reader = chunksOf(request, raw)
  if (!reader) return new Uint8Array(0)

  const body = new BodyBytes(
    small ? declaredLength : undefined,
    (bytes, length) =>
      !inFlight || inFlight.take(bytes, small || (declaredLength === undefined && length <= SMALL_BODY_BYTES)),
  )
  let timer: ReturnType<typeof setTimeout> | undefined
  const expired =
    timeoutMs !== undefined && timeoutMs > 0 && Number.isFinite(timeoutMs)
      ? new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(timedOut(timeoutMs)), timeoutMs)
        })
      : undefined
  // What ends a read early besides the body itself: the deadline, and the budget cutting this body for another's.
  const interrupt = expired && inFlight ? Promise.race([expired, inFlight.cut]) : (expired ?? inFlight?.cut)
  let finished = false
  try {
    for (;;) {
      const { done, value } = await nextChunk(interrupt ? Promise.race([reader.next(), interrupt]) : reader.next())
      if (done) break
      if (body.length + value.byteLength > limit) throw tooLarge(limit)
      if (!body.append(value)) throw busy()
      onChunk?.(value)
    }
    finished = true
    inFlight?.settle()
  } finally {
    clearTimeout(timer)
    // Refused before the end (413, 503, 408): stop reading. Not awaited: a read still pending (a client that went
    // quiet) may never settle, and the answer must not wait for it.
    if (!finished) void reader.cancel().catch(() => {})
    reader.release()
  }
  if (declaredLength !== undefined && body.length !== declaredLength) {
    throw new HttpError(
      400,
      'truncated_body',
      body.length < declaredLength
        ? `body ended after ${body.length} of ${declaredLength} declared bytes`
        : `body is longer than the ${declaredLength} declared bytes`,
    )
  }
  return body.bytes()
}

/**
 * A body's bytes as they arrive: a small declared body in one buffer of its length (taken before reading); any
 * other as the chunks that arrived, each taken (`take`, false when refused) as it comes (at least 1 KiB each, for
 * its bookkeeping), and joined once at the end. So what a body holds is what its client sent.
 */
class BodyBytes {
  readonly #exact: number | undefined
  readonly #take: (bytes: number, length: number) => boolean
  #buffer: Uint8Array | undefined
  readonly #chunks: Uint8Array[] = []
  #length = 0

  /** `exact`: a small body's declared length; `take(bytes, length)`: takes `bytes` more for a body `length` long. */
  constructor(exact: number | undefined, take: (bytes: number, length: number) => boolean) {
    this.#exact = exact
    this.#take = take
  }

  get length(): number {
    return this.#length
  }

  append(chunk: Uint8Array): boolean {
    const length = this.#length + chunk.byteLength
    if (this.#exact !== undefined && length <= this.#exact) {
      // The whole body in one chunk that owns its memory (a runtime that buffers small bodies natively) is kept.
      if (this.#length === 0 && length === this.#exact && ownsBuffer(chunk)) this.#buffer = chunk
      else (this.#buffer ??= new Uint8Array(this.#exact)).set(chunk, this.#length)
    } else {
      // Bytes past a small body's declared length (HTTP parsers never deliver them) are taken like any chunk's.
      if (!this.#take(Math.max(chunk.byteLength, MIN_CHUNK_COST), length)) return false
      this.#chunks.push(chunk)
    }
    this.#length = length
    return true
  }

  /** The bytes, in one buffer of exactly their size. */
  bytes(): Uint8Array {
    const buffer = this.#buffer
    if (buffer && this.#chunks.length === 0 && this.#length === buffer.byteLength) return buffer
    if (!buffer && this.#chunks.length === 1 && ownsBuffer(this.#chunks[0]!)) return this.#chunks[0]!
    const parts = buffer
      ? [buffer.subarray(0, Math.min(this.#length, buffer.byteLength)), ...this.#chunks]
      : this.#chunks
    const out = new Uint8Array(this.#length)
    let offset = 0
    for (const part of parts) {
      out.set(part, offset)
      offset += part.byteLength
    }
    return out
  }
}

/** True when `view` is all of its ArrayBuffer, so keeping it keeps nothing else alive. */
function ownsBuffer(view: Uint8Array): boolean {
  return view.byteOffset === 0 && view.buffer.byteLength === view.byteLength
}

/** A read that fails because the client went away is the client's doing (400), not a server error. */
async function nextChunk(
  read: Promise<IteratorResult<Uint8Array, unknown>>,
): Promise<IteratorResult<Uint8Array, unknown>> {
  try {
    return await read
  } catch (error) {
    if (error instanceof HttpError) throw error
    throw new HttpError(
      400,
      'body_aborted',
      `the body stopped before it was complete (${(error as Error)?.message ?? error})`,
    )
  }
}

/** The answer to a body the in-flight budget has no room for (also `InFlightBytes.lease`'s cut). */
export function busy(): HttpError {
  return new HttpError(503, 'busy', 'too many request bytes in flight (server.maxInFlightBytes); retry shortly', {
    'retry-after': '2',
    connection: 'close',
  })
}

function timedOut(ms: number): HttpError {
  return new HttpError(408, 'body_timeout', `body not received within ${ms} ms (server.bodyTimeout)`, {
    connection: 'close',
  })
}

function tooLarge(limit: number): HttpError {
  // The rest of the body is not read: the connection closes after the answer.
  return new HttpError(413, 'body_too_large', `body is larger than the ${limit}-byte limit (server.maxBodyBytes)`, {
    connection: 'close',
  })
}
