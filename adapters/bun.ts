/**
 * Bun entry: `bun run adapters/bun.ts [--config FILE]`.
 */
import { prepareServer, shutdownHandler } from '../src/start.ts'
import { flushLogs } from '../src/log.ts'
import type { Bindings } from '../src/http/bindings.ts'
import { SMALL_BODY_BYTES } from '../src/http/in-flight.ts'
import { routeGate } from '../src/http/route-gate.ts'
import type { BunGlobal, BunServer, RouteRequest } from './bun/types.ts'
import { startOtelSdk } from './tracing/otel-sdk.ts'

declare const Bun: BunGlobal
declare const process: { exit(code: number): never; on(signal: string, handler: () => void): void }

const exit = (code: number): never => {
  flushLogs()
  return process.exit(code)
}
const { gateway, port, host, maxBodyBytes, headersTimeoutMs, bodyTimeoutMs, shutdownGraceMs, log, listening } =
  await prepareServer(Bun.argv.slice(2), Bun.env, exit)
const tracing = await startOtelSdk(Bun.env, log) // undefined unless the OTEL_* variables ask for traces

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
// Bun matches `routes` on the target as sent but resolves dot segments in request.url: each app route is a Bun
// route whose parameters rebuild the path as sent, for the app's dot-segment check.
const gate = routeGate(gateway.app.routes)
const routes = Object.fromEntries(
  gate.routes.map(({ path, rawPath }) => [
    path,
    (request: RouteRequest, server: BunServer) => fetch(request, server, rawPath(request.params)),
  ]),
)
// Signals are handled before the server listens: the "listening" line (and a first sign-in link) can reach a
// supervisor that stops the gateway at once, and a SIGTERM then must drain it, not kill it.
const onSignal = shutdownHandler({
  stopServer: () => server.stop(),
  gateway,
  log,
  exit,
  graceMs: shutdownGraceMs,
  flush: async () => tracing?.shutdown(),
})
process.on('SIGINT', () => onSignal('SIGINT'))
process.on('SIGTERM', () => onSignal('SIGTERM'))

// Bun has no header or request timeout, only an idle one (in seconds, at most 255, checked every 4 s), and it also
// runs while a body streams in and while the handler works: a request still unanswered when it fires is dropped
// without an answer. So it is set above the handler's own body deadline (server.bodyTimeout, which answers 408),
// and closes connections that go quiet (in their headers too) within headersTimeout + bodyTimeout + 5 s.
const idleTimeout = Math.min(255, Math.ceil((headersTimeoutMs + bodyTimeoutMs) / 1000) + 5)
const server = Bun.serve({
  port,
  hostname: host,
  maxRequestBodySize: maxBodyBytes + 1024 * 1024, // Bun refuses larger bodies before our handler, without our 413
  idleTimeout,
  routes,
  fetch: (request) => gate.unrouted(request.url),
})
listening(server.port, `bun ${Bun.version}`)

process.on('exit', flushLogs) // a crash still writes the log lines gathered for this turn
