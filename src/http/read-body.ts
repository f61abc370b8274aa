/**
 * Reads a request body once, as bytes, never holding more than `limit` bytes.
 *
 * A declared Content-Length over the limit is refused before reading anything; a chunked body is counted as it
 * streams and the read is cancelled as soon as it passes the limit, so a 64 MiB upload to a 16 MiB limit costs
 * at most 16 MiB of memory.
 *
 * Two more bounds hold across requests and over time, the same on every runtime:
 * - bytes in flight (`InFlightBytes`, `server.maxInFlightBytes`): a declared length is taken from a shared budget
 *   before reading (503 when it does not fit), a chunked body chunk by chunk as it arrives (503 when the budget
 *   runs out, the read cancelled there); the request gives its share back when it is done;
 * - time (`timeoutMs`, `server.bodyTimeout`): a body not complete within it is refused with 408 and no longer
 *   read, so a client trickling bytes holds neither memory nor a request for long (Deno.serve has no timeout of
 *   its own).
 *
 * `onChunk` sees every chunk as it arrives, in order, before the next one is read: hashes (the signature's HMAC,
 * the event's SHA-256) are computed in the same pass, while the chunk is still in the CPU cache.
 * @module
 */
import { HttpError } from './errors.ts'

interface Chunks {
  next(): Promise<IteratorResult<Uint8Array, unknown>>
  /** Stops reading early. */
  cancel(): Promise<void>
  release(): void
}

function chunksOf(request: Request, raw: AsyncIterable<Uint8Array> | undefined): Chunks | undefined {
  if (raw) {
    const iterator = raw[Symbol.asyncIterator]()
    return { next: () => iterator.next(), cancel: async () => { await iterator.return?.() }, release() {} }
  }
  if (!request.body) return undefined
  const reader = request.body.getReader()
  return { next: () => reader.read(), cancel: () => reader.cancel(), release: () => reader.releaseLock() }
}

/** The body bytes all requests hold at once, against one limit (`server.maxInFlightBytes`). */
export class InFlightBytes {
  #used = 0
  readonly limit: number
  constructor(limit: number) {
    this.limit = limit
  }

  /** Bytes held right now, by all requests. */
  get used(): number {
    return this.#used
  }

  /** One request's share: grows with `take`, given back whole by `release` (call it in a `finally`). */
  lease(): InFlightLease {
    let held = 0
    return {
      take: (bytes) => {
        if (bytes <= 0) return true
        if (this.#used + bytes > this.limit) return false
        this.#used += bytes
        held += bytes
        return true
      },
      release: () => {
        this.#used -= held
        held = 0
      },
      get held() {
        return held
      },
    }
  }
}

export interface InFlightLease {
  /** Takes `bytes` more from the shared budget; false (and nothing taken) when they do not fit. */
  take(bytes: number): boolean
  /** Gives back everything taken; safe to call more than once. */
  release(): void
  readonly held: number
}

export interface ReadOptions {
  /** This request's share of the bytes in flight; the caller releases it when done with the body. */
  inFlight?: InFlightLease
  /** The whole body must arrive within this many milliseconds of the start of the read: 408 otherwise. */
  timeoutMs?: number
  /** The runtime's own chunk iterator for the body (see Bindings.body); the Request's stream otherwise. */
  raw?: AsyncIterable<Uint8Array>
}

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
  // When the length is declared we read straight into one buffer; otherwise chunks are joined once at the end.
  const declaredLength = length !== undefined && Number.isInteger(length) && length >= 0 ? length : undefined
  // A declared length is taken whole before anything is read; a chunked body is taken as it arrives.
  if (declaredLength !== undefined && inFlight && !inFlight.take(declaredLength)) throw busy()
  const reader = chunksOf(request, raw)
  if (!reader) return new Uint8Array(0)

  let exact: Uint8Array | undefined
  const chunks: Uint8Array[] = []
  let received = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  const expired = timeoutMs !== undefined && timeoutMs > 0 && Number.isFinite(timeoutMs)
    ? new Promise<never>((_, reject) => { timer = setTimeout(() => reject(timedOut(timeoutMs)), timeoutMs) })
    : undefined
  let finished = false
  try {
    for (;;) {
      const { done, value } = await nextChunk(expired ? Promise.race([reader.next(), expired]) : reader.next())
      if (done) break
      if (received + value.byteLength > limit) throw tooLarge(limit)
      // A chunked body is taken as it arrives; with a declared length (taken already), only bytes past it, which
      // HTTP parsers never deliver but a Web stream could.
      const untaken = declaredLength === undefined
        ? value.byteLength
        : Math.max(0, received + value.byteLength - Math.max(declaredLength, received))
      if (inFlight && !inFlight.take(untaken)) throw busy()
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
    finished = true
  } finally {
    clearTimeout(timer)
    // Refused before the end (413, 503, 408): stop reading. Not awaited: a read still pending (a client that went
    // quiet) may never settle, and the answer must not wait for it.
    if (!finished) void reader.cancel().catch(() => {})
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

/** A read that fails because the client went away is the client's doing (400), not a server error. */
async function nextChunk(read: Promise<IteratorResult<Uint8Array, unknown>>): Promise<IteratorResult<Uint8Array, unknown>> {
  try {
    return await read
  } catch (error) {
    if (error instanceof HttpError) throw error
    throw new HttpError(400, 'body_aborted', `the body stopped before it was complete (${(error as Error)?.message ?? error})`)
  }
}

function busy(): HttpError {
  return new HttpError(503, 'busy', 'too many request bytes in flight (server.maxInFlightBytes); retry shortly', { 'retry-after': '2', connection: 'close' })
}

function timedOut(ms: number): HttpError {
  return new HttpError(408, 'body_timeout', `body not received within ${ms} ms (server.bodyTimeout)`, { connection: 'close' })
}

function tooLarge(limit: number): HttpError {
  // The rest of the body is not read: the connection closes after the answer.
  return new HttpError(413, 'body_too_large', `body is larger than the ${limit}-byte limit (server.maxBodyBytes)`, { connection: 'close' })
}
