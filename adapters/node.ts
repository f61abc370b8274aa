/**
 * Node entry, run as the JavaScript `npm run build` emits (`npm start`):
 * `node dist/node/adapters/node.js [--config FILE]`.
 */
import { serve, type HttpBindings, type Http2Bindings } from '@hono/node-server'
import { prepareServer, shutdownHandler } from '../src/start.ts'
import { flushLogs } from '../src/log.ts'
import type { Bindings } from '../src/http/bindings.ts'
import { IncomingMessage } from 'node:http'

const exit = (code: number): never => {
  flushLogs()
  return process.exit(code)
}
const { gateway, port, host, headersTimeoutMs, bodyTimeoutMs, shutdownGraceMs, log, listening } = await prepareServer(
  process.argv.slice(2),
  process.env,
  exit,
)

// The webhook handler reads a POST body straight from the IncomingMessage (no Web stream around it); returning
// from the iterator early (413) leaves the socket open for the answer, and Node discards the rest of the body.
const fetch = (request: Request, env: HttpBindings | Http2Bindings) => {
  const incoming = env.incoming
  // The target as sent: the Request's URL has its dot segments resolved already (plain-path.ts checks them).
  const bindings: Bindings = { rawPath: incoming.url }
  if (incoming.socket.remoteAddress) bindings.clientAddress = incoming.socket.remoteAddress // per-client limits
  if (request.method === 'POST' && incoming instanceof IncomingMessage) {
    bindings.body = { [Symbol.asyncIterator]: () => incoming.iterator({ destroyOnReturn: false }) }
  }
  return gateway.fetch(request, bindings)
}
// Node's own defaults let a request take 300 s (and its headers 60 s), checked every 30 s. Headers get
// server.headersTimeout; the whole request a few seconds more than headers plus server.bodyTimeout, as a backstop
// to the handler's own body deadline (which answers 408 first). Idle keep-alive connections close after 5 s.
const server = serve(
  {
    fetch,
    port,
    hostname: host,
    serverOptions: {
      headersTimeout: headersTimeoutMs,
      requestTimeout: headersTimeoutMs + bodyTimeoutMs + 5_000,
      keepAliveTimeout: 5_000,
      connectionsCheckingInterval: 1_000,
    },
  },
  (info) => {
    listening(info.port, `node ${process.version}`)
  },
)

const onSignal = shutdownHandler({
  stopServer: () => new Promise<void>((resolve) => server.close(() => resolve())),
  gateway,
  log,
  exit,
  graceMs: shutdownGraceMs,
})
process.on('SIGINT', () => onSignal('SIGINT'))
process.on('SIGTERM', () => onSignal('SIGTERM'))
process.on('exit', flushLogs) // a crash still writes the log lines gathered for this turn
