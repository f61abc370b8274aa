/**
 * AWS Lambda entry: `handler` answers HTTP events (Function URL, API Gateway HTTP API and REST API, ALB), `scheduled`
 * an EventBridge schedule. `npm run build:lambda` bundles it into one file; template.yaml deploys it. The config
 * comes from HOOKCAST_CONFIG_YAML or HOOKCAST_CONFIG and is loaded once per cold start.
 *
 * Hono's `hono/aws-lambda` turns events into Requests and Responses into results (base64 both ways for binary).
 * It is marked deprecated in favour of `@hono/aws-lambda`, not published yet: this is the one file that imports it.
 */
import process from 'node:process'
import { Hono } from 'hono'
import { handle, type LambdaContext, type LambdaEvent } from 'hono/aws-lambda'
import type { Env } from '../src/config/interpolate.ts'
import { ConfigError } from '../src/config/load.ts'
import { createLogger, flushLogs, type Logger, type LogLevel } from '../src/log.ts'
import { HttpError } from '../src/http/errors.ts'
import {
  binaryAsTextError,
  clientAddressOf,
  jpegAsText,
  latin1Bytes,
  nonAsciiHeaders,
  rawPathOf,
  type LambdaHttpEvent,
} from '../src/serverless/aws-events.ts'
import type { Bindings } from '../src/http/bindings.ts'
import {
  createServerlessGateway,
  loadServerlessConfig,
  requestDeadline,
  scheduledDeadline,
  type ServerlessGateway,
} from '../src/serverless/serverless-gateway.ts'

/** Without a Lambda context (a local call), a request may take this long. */
const NO_CONTEXT_REMAINING_MS = 30_000

export function createLambda(env: Env, options: { log?: Logger } = {}) {
  let log = options.log ?? createLogger(levelOf(env.HOOKCAST_LOG_LEVEL) ?? 'info')
  let ready: Promise<ServerlessGateway> | undefined
  const start = () =>
    (ready ??= (async () => {
      const { config, origin } = await loadServerlessConfig(env)
      requestDeadline(env, 0, Infinity) // a malformed HOOKCAST_DELIVER_WITHIN or HOOKCAST_SCHEDULED_WITHIN fails here, once
      scheduledDeadline(env, 0, Infinity)
      if (!options.log) log = createLogger(levelOf(env.HOOKCAST_LOG_LEVEL) ?? config.log.level)
      if (config.spool.type === 'local') {
        log.warn(
          "spool type local keeps undelivered events in this instance's /tmp, lost when it goes; use a shared spool",
          { dir: config.spool.dir },
        )
      }
      const serverless = await createServerlessGateway(config, { log })
      log.info('config loaded', {
        config: origin,
        sources: Object.keys(config.sources),
        destinations: [...serverless.gateway.destinations.keys()],
      })
      return serverless
    })().catch((error: unknown) => {
      ready = undefined // a bucket that was briefly unreachable at the cold start must not break the instance for good
      throw error
    }))
  const failed = (error: unknown) => {
    console.error(error instanceof ConfigError ? error.message : `cannot start: ${(error as Error).stack ?? error}`)
  }

  const front = new Hono<{ Bindings: { event: LambdaHttpEvent; lambdaContext?: LambdaContext } }>()
  front.all('*', async (c) => {
    const startedAt = Date.now()
    const remaining = c.env.lambdaContext?.getRemainingTimeInMillis() ?? NO_CONTEXT_REMAINING_MS
    let serverless: ServerlessGateway
    try {
      serverless = await start()
    } catch (error) {
      failed(error)
      return new HttpError(500, 'not_configured', "hookcast cannot start; the function's log says why").toResponse()
    }
    const event = c.env.event
    let request = c.req.raw
    const asText = jpegAsText(event)
    if (asText === 'mangled') return binaryAsTextError().toResponse() // never verified: it could not match
    const headers = nonAsciiHeaders(event) // as their bytes, as a server gives them (src/events/header-text.ts)
    if (asText === 'latin1' || headers.length > 0) {
      request = await rebuilt(request, headers, asText === 'latin1' ? latin1Bytes(event.body!) : undefined)
    }
    const bindings: Bindings = {}
    const clientAddress = clientAddressOf(event)
    if (clientAddress) bindings.clientAddress = clientAddress
    const rawPath = rawPathOf(event)
    if (rawPath !== undefined) bindings.rawPath = rawPath
    return serverless.handle(request, { deadline: requestDeadline(env, startedAt, remaining), bindings })
  })
  const http = handle(front)

  return {
    async handler(event: LambdaEvent, context?: LambdaContext) {
      try {
        return await http(event, context)
      } finally {
        flushLogs() // the instance may be frozen before the next turn of the event loop
      }
    },
    async scheduled(_event: unknown, context?: LambdaContext) {
      const startedAt = Date.now()
      try {
        const serverless = await start().catch((error: unknown) => {
          failed(error)
          throw error
        })
        const remaining = context?.getRemainingTimeInMillis() ?? NO_CONTEXT_REMAINING_MS
        return await serverless.scheduled({ deadline: scheduledDeadline(env, startedAt, remaining) })
      } finally {
        flushLogs()
      }
    },
    /** For tests: closes the gateway, if it started. */
    async close() {
      await (await ready?.catch(() => undefined))?.close()
    },
  }
}

/** A copy of `request` with some header values replaced and, if given, other body bytes (and their length). */
async function rebuilt(request: Request, values: Array<[string, string]>, body?: Uint8Array): Promise<Request> {
  const headers = new Headers(request.headers)
  for (const [name, value] of values) headers.set(name, value)
  const bytes = body ?? (request.body ? new Uint8Array(await request.arrayBuffer()) : undefined)
  if (bytes) headers.set('content-length', String(bytes.byteLength))
  const init: RequestInit = { method: request.method, headers }
  if (bytes) init.body = bytes as Uint8Array<ArrayBuffer>
  return new Request(request.url, init)
}

function levelOf(value: string | undefined): LogLevel | undefined {
  return value === 'debug' || value === 'info' || value === 'warn' || value === 'error' ? value : undefined
}

const lambda = createLambda(process.env)
process.on('unhandledRejection', (reason) => {
  // A background promise nobody caught is a bug; it must not fail the invocation that happens to be running.
  console.error(
    JSON.stringify({
      level: 'error',
      msg: 'unhandled rejection (a bug; please report it)',
      error: String((reason as Error)?.stack ?? reason).slice(0, 2000),
    }),
  )
})

export const handler = lambda.handler
export const scheduled = lambda.scheduled
