/**
 * Memory of a spawned server, and many large uploads at once: for checks that hostile requests cannot make the
 * gateway hold memory (bounds on bytes, not on time).
 */
import { readFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { connect } from 'node:net'

/** The resident set size of a process, in bytes (Linux: VmRSS of /proc/<pid>/status). */
export function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (!match) throw new Error(`no VmRSS for process ${pid}`)
  return Number(match[1]) * 1024
}

/** Samples a process's RSS until stopped; `peak` is the largest value seen. */
export function rssSampler(pid: number, everyMs = 20): { peak(): number; stop(): number } {
  let peak = rssBytes(pid)
  const sample = () => {
    try {
      peak = Math.max(peak, rssBytes(pid))
    } catch {
      // the process is gone: the caller's own checks report that
    }
  }
  const timer = setInterval(sample, everyMs)
  return {
    peak: () => peak,
    stop() {
      clearInterval(timer)
      sample()
      return peak
    },
  }
}

export const MiB = 1024 * 1024

export interface UploadOptions {
  /** Bytes of body to send (fewer are sent when the server answers or closes first). */
  bytes: number
  headers: Record<string, string>
  /** Send `transfer-encoding: chunked` instead of a Content-Length. */
  chunked?: boolean
  /** Size of each write (256 KiB by default). */
  chunk?: number
  /**
   * A slow sender: all but the last KiB at once, then one byte every `trickleMs`, so the connection is never idle
   * but the body never completes in time; the answer can only be a refusal or a timeout.
   */
  trickleMs?: number
  /**
   * Sends all but the last write, calls `reached`, and sends the rest only once `release` resolves: with many
   * uploads at once, none can finish (and give back what it holds) before all have had their turn.
   */
  holdLast?: { reached(): void; release: Promise<void> }
}

export interface UploadResult {
  /** The answer's status, or `reset` when the connection ended without one. */
  status: number | 'reset'
  body: string
  /** Body bytes handed to the socket before the answer (or the reset). */
  sent: number
}

/**
 * POSTs `bytes` of 'A's in 256 KiB writes, respecting back-pressure, and stops writing as soon as the server
 * answers. A server that answers and closes without reading counts as an answer, not as a failure.
 */
export function upload(url: string, options: UploadOptions): Promise<UploadResult> {
  return new Promise((resolve) => {
    const chunk = Buffer.alloc(options.chunk ?? 256 * 1024, 0x41)
    const headers: Record<string, string> = { ...options.headers, connection: 'close' }
    if (options.chunked) headers['transfer-encoding'] = 'chunked'
    else headers['content-length'] = String(options.bytes)
    let sent = 0
    let settled = false
    let answered = false
    const settle = (result: UploadResult) => {
      if (settled) return
      settled = true
      clearInterval(trickle)
      resolve(result)
      req.destroy()
    }
    const req = httpRequest(url, { method: 'POST', headers, agent: false }, (res) => {
      answered = true
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (text: string) => {
        body += text
      })
      res.on('end', () => settle({ status: res.statusCode!, body, sent }))
      res.on('error', () => settle({ status: res.statusCode!, body, sent }))
    })
    req.on('error', () => {
      if (!answered) settle({ status: 'reset', body: '', sent })
    })
    req.on('close', () => {
      if (!answered) settle({ status: 'reset', body: '', sent })
    })
    const slow = options.trickleMs !== undefined
    const total = slow ? options.bytes - 1024 : options.bytes
    let trickle: ReturnType<typeof setInterval> | undefined
    let held = false
    const pump = () => {
      while (!answered && !settled && sent < total) {
        const piece = Math.min(chunk.byteLength, total - sent)
        if (options.holdLast && !held && sent + piece >= total) {
          held = true
          options.holdLast.reached()
          return void options.holdLast.release.then(pump)
        }
        sent += piece
        if (!req.write(piece === chunk.byteLength ? chunk : chunk.subarray(0, piece)))
          return void req.once('drain', pump)
      }
      if (answered || settled) return
      if (!slow) return void req.end()
      trickle ??= setInterval(() => {
        if (answered || settled || sent >= options.bytes - 1) return clearInterval(trickle)
        sent += 1
        req.write(chunk.subarray(0, 1))
      }, options.trickleMs)
    }
    pump()
  })
}

/**
 * A slowloris: opens a connection and sends `head` (a request line and some headers, not their end), then one more
 * header line every `trickleMs` (0: nothing more). Resolves with what the server sent once it closes the
 * connection, or with `open` when it is still open after `guardMs` (a guard against hanging, not a timing check).
 */
export function slowHeaders(
  url: string,
  options: { trickleMs?: number; guardMs?: number } = {},
): Promise<{ closed: boolean; answer: string }> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve) => {
    let answer = ''
    const socket = connect(Number(port), hostname, () => {
      socket.write(`POST /hooks/millicast HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\n`)
    })
    const trickle = options.trickleMs
      ? setInterval(() => {
          if (!socket.destroyed) socket.write('X-Slow: y\r\n')
        }, options.trickleMs)
      : undefined
    const done = (closed: boolean) => {
      clearInterval(trickle)
      clearTimeout(guard)
      socket.destroy()
      resolve({ closed, answer })
    }
    const guard = setTimeout(() => done(false), options.guardMs ?? 30_000)
    socket.setEncoding('utf8')
    socket.on('data', (text: string) => {
      answer += text
    })
    socket.on('error', () => {})
    socket.on('close', () => done(true))
  })
}
