/**
 * A pass-through proxy in front of an S3 API that can make one write land and still fail: the request is forwarded
 * and carried out upstream, and its answer is replaced by `500 InternalError`, as S3 (or a connection dropped after
 * the write) can answer. The SDK then retries the same request; a conditional one fails its own precondition on the
 * object its first try changed. That is the case the S3 queue's `landed` check (src/backends/s3/queue-context.ts) is for.
 */
import { createServer, request, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ProxiedRequest {
  method: string
  /** Path and query, as sent (`/<bucket>/<key>?x-id=PutObject`). */
  url: string
  headers: IncomingHttpHeaders
}

export interface LandThenFailProxy {
  endpoint: string
  /**
   * The next request `matches` picks is carried out upstream and answered 500. Resolves once that happened, with
   * the status the upstream gave (200: the write landed).
   */
  failNext(matches: (request: ProxiedRequest) => boolean): Promise<{ upstreamStatus: number; request: ProxiedRequest }>
  /** Every request that went through, in order (the SDK's retries too). */
  readonly seen: ProxiedRequest[]
  stop(): Promise<void>
}

const INTERNAL_ERROR =
  '<?xml version="1.0" encoding="UTF-8"?>\n' +
  '<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>'

export async function startLandThenFailProxy(upstream: string): Promise<LandThenFailProxy> {
  const target = new URL(upstream)
  const seen: ProxiedRequest[] = []
  let armed:
    | {
        matches: (request: ProxiedRequest) => boolean
        fired: (upstreamStatus: number, request: ProxiedRequest) => void
      }
    | undefined

  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const proxied: ProxiedRequest = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers }
      seen.push(proxied)
      const trap = armed?.matches(proxied) ? armed : undefined
      if (trap) armed = undefined
      const out = request(
        {
          host: target.hostname,
          port: target.port,
          method: proxied.method,
          path: proxied.url,
          headers: { ...req.headers, host: target.host },
        },
        (answer) => {
          if (!trap) {
            res.writeHead(answer.statusCode ?? 502, answer.headers)
            answer.pipe(res)
            return
          }
          answer.resume()
          answer.on('end', () => {
            res.writeHead(500, { 'content-type': 'application/xml' })
            res.end(INTERNAL_ERROR)
            trap.fired(answer.statusCode ?? 0, proxied)
          })
        },
      )
      out.on('error', () => {
        if (!res.headersSent) res.writeHead(502)
        res.end()
      })
      out.end(chunks.length > 0 ? Buffer.concat(chunks) : undefined)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    endpoint: `http://127.0.0.1:${port}`,
    seen,
    failNext(matches) {
      return new Promise((resolve) => {
        armed = { matches, fired: (upstreamStatus, request) => resolve({ upstreamStatus, request }) }
      })
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
