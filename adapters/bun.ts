/**
 * Bun entry: `bun run adapters/bun.ts [--config FILE]`.
 */
import { prepare, shutdownHandler } from '../src/start.ts'
import { flushLogs } from '../src/log.ts'
import type { Bindings } from '../src/http/bindings.ts'
import { SMALL_BODY_BYTES } from '../src/http/in-flight.ts'
import { HttpError } from '../src/http/errors.ts'
import { assertPlainPath, badPath } from '../src/http/plain-path.ts'

// Only the parts of the Bun namespace this file touches.
interface BunServer {
  requestIP(request: Request): { address: string } | null
}
/** A request to one of `routes`: its parameters, percent-decoded, as the target was sent. */
type RouteRequest = Request & { params: Record<string, string> }
declare const Bun: {
  argv: string[]
  env: Record<string, string | undefined>
  version: string
  serve(options: {
    port: number
    hostname: string
    maxRequestBodySize: number
    /** Seconds a connection may go without sending or receiving (Bun's default is 10, at most 255). */
    idleTimeout: number
    /** Matched on the request target as sent, before dot segments are resolved (request.url has them resolved). */
    routes: Record<string, (request: RouteRequest, server: BunServer) => Response | Promise<Response>>
    /** Requests no route matches. */
    fetch: (request: Request, server: BunServer) => Response | Promise<Response>
  }): { port: number; stop(closeActiveConnections?: boolean): Promise<void> }
}
declare const process: { exit(code: number): never; on(signal: string, handler: () => void): void }

const exit = (code: number): never => {
  flushLogs()
  return process.exit(code)
}
const { gateway, port, host, maxBodyBytes, headersTimeoutMs, bodyTimeoutMs, shutdownGraceMs, log, listening } =
  await prepare(Bun.argv.slice(2), Bun.env, exit)

// Bun refuses bodies over its own limit before our handler runs; leave room so our 413 (with its JSON) answers.
// A small POST body (declared, at most 64 KiB) is read with arrayBuffer(): Bun buffers it natively in one
// allocation, which the webhook handler keeps as the body; the in-flight budget takes its length before that. A
// larger or chunked one is streamed, so its memory is counted as it arrives and a 413 comes at the limit.
const fetch = (request: Request, server: BunServer, rawPath: string) => {
  const bindings: Bindings = { rawPath }
  const peer = server.requestIP(request)?.address
  if (peer) bindings.clientAddress = peer // per-client limits
  const declared = request.method === 'POST' ? request.headers.get('content-length') : null
  if (declared !== null && Number(declared) <= SMALL_BODY_BYTES) {
    bindings.body = {
      async *[Symbol.asyncIterator]() {
        yield new Uint8Array(await request.arrayBuffer())
      },
    }
  }
  return gateway.fetch(request, bindings)
}
// Bun resolves dot segments (`..`, `%2e%2e`, backslashes) in request.url before any handler sees it, but matches
// `routes` on the target as sent. So each of the app's routes is a Bun route, and its parameters as sent rebuild the
// path the app checks for dot segments (src/http/plain-path.ts). A target that names no route never reaches the
// app, which would route its resolved URL: 400 when that URL still has encoded dot segments, or names a route
// (the target reached it through dot segments); 404 otherwise, as the app answers.
const routes: Record<string, (request: RouteRequest, server: BunServer) => Response | Promise<Response>> = {}
const shapes: RegExp[] = []
for (const { path } of gateway.app.routes) {
  if (path.includes('*') || routes[path]) continue // `/api/*` is middleware: its routes are listed on their own
  const rawPath = (request: RouteRequest) =>
    path.replace(/:(\w+)/g, (_, name: string) => encodeURIComponent(request.params[name] ?? ''))
  routes[path] = (request, server) => fetch(request, server, rawPath(request))
  shapes.push(new RegExp(`^${path.replace(/[.]/g, '\\.').replace(/:\w+/g, '[^/]+')}$`))
}
const unrouted = (request: Request) => {
  try {
    const resolved = new URL(request.url).pathname
    assertPlainPath(resolved)
    throw shapes.some((shape) => shape.test(resolved)) ? badPath() : new HttpError(404, 'not_found', 'no such path')
  } catch (error) {
    return (error as HttpError).toResponse()
  }
}
// Bun has no header or request timeout, only an idle one (in seconds, at most 255, checked every 4 s), and it also
// runs while a body streams in and while the handler works: a request still unanswered when it fires is dropped
// without an answer. So it is set above the handler's own body deadline (server.bodyTimeout, which answers 408),
// and closes connections that go quiet (in their headers too) within headersTimeout + bodyTimeout + 5 s.
const idleTimeout = Math.min(255, Math.ceil((headersTimeoutMs + bodyTimeoutMs) / 1000) + 5)
const server = Bun.serve({
  port,
  hostname: host,
  maxRequestBodySize: maxBodyBytes + 1024 * 1024,
  idleTimeout,
  routes,
  fetch: unrouted,
})
listening(server.port, `bun ${Bun.version}`)

const onSignal = shutdownHandler({ stopServer: () => server.stop(), gateway, log, exit, graceMs: shutdownGraceMs })
process.on('SIGINT', () => onSignal('SIGINT'))
process.on('SIGTERM', () => onSignal('SIGTERM'))
process.on('exit', flushLogs) // a crash still writes the log lines gathered for this turn
