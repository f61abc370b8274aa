/**
 * hookcast on @hono/node-server as adapters/node.ts serves it, but with no delivery worker: every accepted event
 * stays in the spool. Accepting then pays for nothing but itself: the most any design that takes deliveries off the
 * accepting thread (issue 26) could let it answer, with the accept path as it is. bench/accept-bound.ts runs it.
 *
 *   PORT=0 HOST=127.0.0.1 node --import tsx bench/servers/held.ts CONFIG
 * @module
 */
import { IncomingMessage } from 'node:http'
import { serve, type Http2Bindings, type HttpBindings } from '@hono/node-server'
import { loadConfig } from '../../src/config/load.ts'
import { createGateway } from '../../src/gateway.ts'
import type { Bindings } from '../../src/http/bindings.ts'
import { createLogger } from '../../src/log.ts'

const log = createLogger('info')
const { config } = await loadConfig(process.argv[2], process.env)
const held = { lanes: () => [], close: async () => {} }
const gateway = await createGateway(config, { log, worker: () => held })
const fetch = (request: Request, env: HttpBindings | Http2Bindings) => {
  const bindings: Bindings = { rawPath: env.incoming.url }
  if (request.method === 'POST' && env.incoming instanceof IncomingMessage) {
    bindings.body = { [Symbol.asyncIterator]: () => env.incoming.iterator({ destroyOnReturn: false }) }
  }
  return gateway.fetch(request, bindings)
}
serve({ fetch, port: Number(process.env.PORT), hostname: process.env.HOST }, (info) =>
  log.info('listening', { url: `http://127.0.0.1:${info.port}`, runtime: `node ${process.version}` }),
)
