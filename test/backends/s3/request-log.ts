/**
 * A pass-through HTTP proxy that notes each request it forwards (method, key path, query), for tests that count the
 * S3 requests a step makes: which records a scan reads, whether a cold start lists the stream records.
 */
import { createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface LoggedRequest {
  method: string
  /** The path, decoded: `/<bucket>/<key>`. */
  path: string
  query: URLSearchParams
}

export interface RequestLog {
  endpoint: string
  readonly requests: LoggedRequest[]
  /** GETs of objects under `/<bucket>/<prefix>` (not LISTs). */
  gets(bucket: string, prefix: string): LoggedRequest[]
  /** LISTs (ListObjectsV2) of `prefix` in `bucket`. */
  lists(bucket: string, prefix: string): LoggedRequest[]
  clear(): void
  stop(): Promise<void>
}

export async function startRequestLog(upstream: string): Promise<RequestLog> {
  const target = new URL(upstream)
  const requests: LoggedRequest[] = []
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://log')
    requests.push({ method: req.method ?? '', path: decodeURIComponent(url.pathname), query: url.searchParams })
    const out = request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      },
    )
    out.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end()
      else res.destroy()
    })
    req.pipe(out)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const isList = (r: LoggedRequest) => r.method === 'GET' && r.query.get('list-type') === '2'
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    gets: (bucket, prefix) =>
      requests.filter((r) => r.method === 'GET' && !isList(r) && r.path.startsWith(`/${bucket}/${prefix}`)),
    lists: (bucket, prefix) =>
      requests.filter(
        (r) =>
          isList(r) && r.path.replace(/\/$/, '') === `/${bucket}` && (r.query.get('prefix') ?? '').startsWith(prefix),
      ),
    clear: () => {
      requests.length = 0
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
