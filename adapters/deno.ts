/**
 * Deno entry: `npm run start:deno [-- --config FILE]`, with the permissions it needs instead of -A (README, "Running
 * on each runtime").
 */
import { prepareServer, shutdownHandler } from '../src/start.ts'
import { flushLogs } from '../src/log.ts'
import { startDenoTracing } from './deno/tracing.ts'
import { missingWriteAccess } from './deno/write-access.ts'

// Only the parts of the Deno namespace this file touches.
declare const Deno: {
  args: string[]
  env: { toObject(): Record<string, string> }
  version: { deno: string }
  exit(code: number): never
  addSignalListener(signal: 'SIGINT' | 'SIGTERM', handler: () => void): void
  serve(
    options: { port: number; hostname: string; onListen(addr: { port: number }): void },
    handler: (request: Request, info: { remoteAddr: { hostname: string } }) => Response | Promise<Response>,
  ): { shutdown(): Promise<void> }
}

const exit = (code: number): never => {
  flushLogs()
  return Deno.exit(code)
}
const { gateway, port, host, shutdownGraceMs, log, listening } = await prepareServer(
  Deno.args,
  Deno.env.toObject(),
  exit,
  missingWriteAccess,
)
const tracing = await startDenoTracing(Deno.env.toObject(), log) // undefined unless OTEL_* ask for the SDK's

// Signals are handled before the server listens: the "listening" line (and a first sign-in link) can reach a
// supervisor that stops the gateway at once, and a SIGTERM then must drain it, not kill it.
const onSignal = shutdownHandler({
  stopServer: () => server.shutdown(),
  gateway,
  log,
  exit,
  graceMs: shutdownGraceMs,
  flush: async () => tracing?.shutdown(),
})
Deno.addSignalListener('SIGINT', () => onSignal('SIGINT'))
Deno.addSignalListener('SIGTERM', () => onSignal('SIGTERM'))

// Deno.serve has no header, body or idle timeout to set: the handler's own body deadline (server.bodyTimeout, 408)
// bounds how long a request's body can hold memory; slow headers hold only a socket (put a proxy in front).
const server = Deno.serve(
  {
    port,
    hostname: host,
    onListen: (addr) => listening(addr.port, `deno ${Deno.version.deno}`),
  },
  (request, info) => {
    return gateway.fetch(request, { clientAddress: info.remoteAddr.hostname }) // per-client limits
  },
)

globalThis.addEventListener('unload', flushLogs) // a crash still writes the log lines gathered for this turn
