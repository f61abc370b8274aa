/**
 * A request on a connection of its own, closed after the answer, with the answer as a fetch Response. Global fetch
 * keeps connections alive and reuses them; a server closes an idle one after its keep-alive timeout, and a client on
 * a loaded machine can pick it for the next request before it has seen the close: that request fails with "other
 * side closed" without reaching the server. A test request must reach the server, so it never reuses a connection.
 */
import { request } from 'node:http'

export interface OnceInit {
  method?: string
  headers?: Record<string, string>
  body?: Uint8Array
}

export function fetchOnce(url: string, init: OnceInit = {}): Promise<Response> {
  const method = init.method ?? 'GET'
  return new Promise((resolve, reject) => {
    let answered = false
    const req = request(url, { method, headers: { ...init.headers, connection: 'close' }, agent: false }, (res) => {
      answered = true
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('error', reject)
      res.on('end', () => {
        const headers = new Headers()
        for (const [name, value] of Object.entries(res.headers)) {
          for (const one of [value ?? []].flat()) headers.append(name, one)
        }
        const status = res.statusCode!
        const body = method === 'HEAD' || [101, 204, 205, 304].includes(status) ? null : Buffer.concat(chunks)
        resolve(new Response(body, { status, statusText: res.statusMessage ?? '', headers }))
      })
    })
    // A server may answer and close before it has read the whole body: the answer counts, the write error not.
    req.on('error', (error) => {
      if (!answered) reject(error)
    })
    req.end(init.body)
  })
}
