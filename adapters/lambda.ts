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
import { flushLogs, type Logger } from '../src/log.ts'
import { HttpError } from '../src/http/errors.ts'
import { coldStart } from '../src/serverless/cold-start.ts'
import { requestDeadline, scheduledDeadline } from '../src/serverless/serverless-gateway.ts'
import { appRequest, type LambdaHttpEvent } from './lambda/http-events.ts'

/** Without a Lambda context (a local call), a request may take this long. */
const NO_CONTEXT_REMAINING_MS = 30_000

export function createLambda(env: Env, options: { log?: Logger } = {}) {
  const start = coldStart(env, options)
  const front = new Hono<{ Bindings: { event: LambdaHttpEvent; lambdaContext?: LambdaContext } }>()
  front.all('*', async (c) => {
    const startedAt = Date.now()
    const remaining = c.env.lambdaContext?.getRemainingTimeInMillis() ?? NO_CONTEXT_REMAINING_MS
    const serverless = await start.gateway().catch(() => undefined)
    if (!serverless) {
      return new HttpError(500, 'not_configured', "hookcast cannot start; the function's log says why").toResponse()
    }
    const app = await appRequest(c.env.event, c.req.raw)
    if (app instanceof Response) return app
    const deadline = requestDeadline(env, startedAt, remaining)
    return serverless.handle(app.request, { deadline, bindings: app.bindings })
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
        const serverless = await start.gateway()
        const remaining = context?.getRemainingTimeInMillis() ?? NO_CONTEXT_REMAINING_MS
        return await serverless.scheduled({ deadline: scheduledDeadline(env, startedAt, remaining) })
      } finally {
        flushLogs()
      }
    },
    /** For tests: closes the gateway, if it started. */
    close: () => start.close(),
  }
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
