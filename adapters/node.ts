/**
 * Node entry: `node --import tsx adapters/node.ts [--config FILE]`.
 */
import { serve } from '@hono/node-server'
import { prepare, shutdownHandler } from '../src/start.ts'
import { flushLogs } from '../src/log.ts'

const exit = (code: number): never => {
  flushLogs()
  return process.exit(code)
}
const { gateway, port, host, shutdownGraceMs, log } = await prepare(process.argv.slice(2), process.env, exit)

const server = serve({ fetch: gateway.fetch, port, hostname: host }, (info) => {
  log.info('listening', { url: `http://${host}:${info.port}`, runtime: `node ${process.version}` })
})

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
