/**
 * An HTTP/1.1 client on a plain socket, for requests a well-behaved client refuses to send: any bytes in header
 * names and values (control characters, raw UTF-8, CR/LF), repeated headers, a declared length that lies, chunked
 * bodies written by hand. One request per connection (`Connection: close`).
 */
import { connect } from 'node:net'

export interface RawRequest {
  method: string
  /** The request target exactly as sent: `/hooks/millicast?x=1`, `/a/../b`. */
  target: string
  /** In order, repeated names allowed; strings are sent as UTF-8, Buffers as they are. */
  headers: Array<[string, string | Uint8Array]>
  body?: Uint8Array
  /** Send the body chunked instead of with a Content-Length (unless `headers` already set one of them). */
  chunked?: boolean
}

export interface RawResponse {
  status: number
  /** Lower-case names; repeated ones joined with ", ". */
  headers: Record<string, string>
  body: Buffer
}

/** What came back: an answer, a connection closed without one, or nothing within `guardMs` (a guard, not a check). */
export type RawOutcome =
  | { kind: 'answer'; response: RawResponse }
  | { kind: 'closed'; error?: string }
  | { kind: 'hung' }

export function rawRequest(url: string, request: RawRequest, guardMs = 15_000): Promise<RawOutcome> {
  const { hostname, port } = new URL(url)
  const body = request.body ?? new Uint8Array(0)
  const names = new Set(request.headers.map(([name]) => name.toLowerCase()))
  const lines: Buffer[] = [
    Buffer.from(`${request.method} ${request.target} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nConnection: close\r\n`),
  ]
  for (const [name, value] of request.headers)
    lines.push(Buffer.concat([Buffer.from(`${name}: `), Buffer.from(value), Buffer.from('\r\n')]))
  const framed = names.has('content-length') || names.has('transfer-encoding')
  let payload: Buffer = Buffer.from(body)
  if (!framed && request.chunked) {
    lines.push(Buffer.from('Transfer-Encoding: chunked\r\n'))
    const pieces: Buffer[] = []
    for (let offset = 0; offset < body.byteLength; offset += 8192) {
      const piece = body.subarray(offset, offset + 8192)
      pieces.push(Buffer.from(`${piece.byteLength.toString(16)}\r\n`), Buffer.from(piece), Buffer.from('\r\n'))
    }
    payload = Buffer.concat([...pieces, Buffer.from('0\r\n\r\n')])
  } else if (!framed) {
    lines.push(Buffer.from(`Content-Length: ${body.byteLength}\r\n`))
  }
  lines.push(Buffer.from('\r\n'))

  return new Promise((resolve) => {
    const received: Buffer[] = []
    let settled = false
    const settle = (outcome: RawOutcome) => {
      if (settled) return
      settled = true
      clearTimeout(guard)
      socket.destroy()
      resolve(outcome)
    }
    const finish = (error?: string) => {
      const response = parseResponse(Buffer.concat(received))
      settle(response ? { kind: 'answer', response } : { kind: 'closed', ...(error ? { error } : {}) })
    }
    const guard = setTimeout(() => settle({ kind: 'hung' }), guardMs)
    const socket = connect(Number(port), hostname, () => {
      socket.write(Buffer.concat([...lines, payload]))
    })
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk)
      // Answered in full: no need to wait for the server to close.
      const response = parseResponse(Buffer.concat(received), true)
      if (response) settle({ kind: 'answer', response })
    })
    socket.on('end', () => finish())
    socket.on('close', () => finish())
    // A server that answers and closes while we still write sees a reset: the answer may already be here.
    socket.on('error', (error) => finish((error as NodeJS.ErrnoException).code ?? error.message))
  })
}

/** An upload that sends its head and part of its body, then waits, as an attacker holding a request open does. */
export interface HeldUpload {
  /** The server's answer, or the connection closed or reset without one. */
  answer: Promise<RawOutcome>
  /** Resolves once every byte given was handed to the socket (not that the server has read them). */
  written: Promise<void>
  /** Closes the connection. */
  close(): void
}

/**
 * POSTs to `target` with these `headers` (a Content-Length among them, or not), then `body`, from `localAddress`
 * (a loopback address such as 127.0.0.2: another client to the server), and sends nothing more until closed.
 */
export function heldUpload(
  url: string,
  options: {
    target: string
    headers: Array<[string, string]>
    body: Uint8Array
    localAddress?: string
  },
): HeldUpload {
  const { hostname, port } = new URL(url)
  const fields = options.headers.map(([name, value]) => `${name}: ${value}`)
  const lines = [`POST ${options.target} HTTP/1.1`, `Host: ${hostname}:${port}`, ...fields]
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`)
  const received: Buffer[] = []
  let written!: () => void
  const from = options.localAddress ? { localAddress: options.localAddress } : {}
  const socket = connect({ port: Number(port), host: hostname, ...from }, () => {
    socket.write(Buffer.concat([head, Buffer.from(options.body)]), () => written())
  })
  const answer = new Promise<RawOutcome>((resolve) => {
    const finish = (error?: string) => {
      const response = parseResponse(Buffer.concat(received))
      resolve(response ? { kind: 'answer', response } : { kind: 'closed', ...(error ? { error } : {}) })
    }
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk)
      const response = parseResponse(Buffer.concat(received), true)
      if (response) resolve({ kind: 'answer', response })
    })
    socket.on('close', () => finish())
    socket.on('error', (error) => finish((error as NodeJS.ErrnoException).code ?? error.message))
  })
  return {
    answer,
    written: new Promise<void>((resolve) => {
      written = resolve
    }),
    close: () => socket.destroy(),
  }
}

/** Parses one response; with `complete`, only when its body is all there (by Content-Length or chunked framing). */
function parseResponse(bytes: Buffer, complete = false): RawResponse | undefined {
  const end = bytes.indexOf('\r\n\r\n')
  if (end < 0) return undefined
  const [statusLine, ...headerLines] = bytes.subarray(0, end).toString('latin1').split('\r\n')
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')
  if (!match) return undefined
  const headers: Record<string, string> = {}
  for (const line of headerLines) {
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`
  }
  const rest = bytes.subarray(end + 4)
  const status = Number(match[1])
  if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) {
    const body = dechunk(rest)
    if (body) return { status, headers, body }
    return complete ? undefined : { status, headers, body: rest }
  }
  if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length'])
    if (rest.byteLength >= length) return { status, headers, body: rest.subarray(0, length) }
    return complete ? undefined : { status, headers, body: rest }
  }
  // No framing: the body runs to the end of the connection.
  if (status === 204 || status === 304) return { status, headers, body: Buffer.alloc(0) }
  return complete ? undefined : { status, headers, body: rest }
}

/** The body of a complete chunked message, or undefined while its last chunk has not arrived. */
function dechunk(bytes: Buffer): Buffer | undefined {
  const out: Buffer[] = []
  let offset = 0
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', offset)
    if (lineEnd < 0) return undefined
    const size = parseInt(bytes.subarray(offset, lineEnd).toString('latin1'), 16)
    if (!Number.isFinite(size)) return undefined
    if (size === 0) return Buffer.concat(out)
    if (bytes.byteLength < lineEnd + 2 + size + 2) return undefined
    out.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size))
    offset = lineEnd + 2 + size + 2
  }
}
