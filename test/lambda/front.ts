/**
 * A local stand-in for a Lambda Function URL, so HTTP tests (and people) can drive the Lambda entry with real
 * requests: `node --import tsx test/lambda/front.ts --config FILE` (PORT, HOST as for the servers). Each request
 * becomes a Function URL event (payload format 2.0; body base64 unless text/* or application/json; 6 MB at most,
 * Lambda's limit for a synchronous invocation), is handed to adapters/lambda.ts's `handler` with a context of
 * HOOKCAST_FRONT_TIMEOUT ms (15 s, template.yaml's timeout), and its result is written back. `scheduled` runs every
 * HOOKCAST_FRONT_SCHEDULE ms (1 s; one run at a time), as the EventBridge schedule would every minute.
 *
 * It logs `listening` like the servers (test/support/runtimes.ts waits for that line) and stops on SIGTERM.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import process from 'node:process'
import { createLambda } from '../../adapters/lambda.ts'
import { resolveConfigPath } from '../../src/config/load.ts'

/** Lambda refuses a synchronous invocation whose event is larger (the base64 body counts). */
const MAX_EVENT_BYTES = 6 * 1024 * 1024
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection'])

const env = { ...process.env }
const configPath = resolveConfigPath(process.argv.slice(2), env)
if (configPath && !env.HOOKCAST_CONFIG_YAML) env.HOOKCAST_CONFIG = configPath
const lambda = createLambda(env)
const timeoutMs = Number(env.HOOKCAST_FRONT_TIMEOUT ?? 15_000)
const scheduleMs = Number(env.HOOKCAST_FRONT_SCHEDULE ?? 1_000)

const context = (ms: number) => {
  const end = Date.now() + ms
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'hookcast-local',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:hookcast-local',
    memoryLimitInMB: '1024',
    awsRequestId: crypto.randomUUID(),
    logGroupName: '/aws/lambda/hookcast-local',
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, end - Date.now()),
  }
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/**
 * The event a Function URL makes of a request (AWS Lambda Developer Guide, "Invoking Lambda function URLs"): the
 * path as sent (still percent-encoded, dot segments and all), header values decoded as UTF-8 (bytes that are not
 * UTF-8 become U+FFFD; Node hands them over one character per byte).
 */
function eventOf(request: IncomingMessage, body: Buffer, host: string) {
  const target = request.url ?? '/'
  const query = target.indexOf('?')
  const rawPath = query < 0 ? target : target.slice(0, query)
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || name === 'cookie') continue
    headers[name] = Buffer.from(Array.isArray(value) ? value.join(',') : value, 'latin1').toString('utf8')
  }
  const text = /^(text\/|application\/json)/i.test(headers['content-type'] ?? '')
  const sourceIp = request.socket.remoteAddress ?? '127.0.0.1'
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString: query < 0 ? '' : target.slice(query + 1),
    ...(request.headers.cookie ? { cookies: request.headers.cookie.split(/;\s*/) } : {}),
    headers: { ...headers, 'x-forwarded-for': sourceIp, 'x-forwarded-proto': 'https', 'x-forwarded-port': '443' },
    requestContext: {
      accountId: 'anonymous',
      apiId: 'local',
      domainName: host,
      domainPrefix: 'local',
      http: {
        method: request.method ?? 'GET',
        path: rawPath,
        protocol: 'HTTP/1.1',
        sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: crypto.randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    ...(body.byteLength > 0
      ? { body: text ? body.toString('utf8') : body.toString('base64'), isBase64Encoded: !text }
      : { isBase64Encoded: false }),
  }
}

async function serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const body = await readBody(request)
  const event = eventOf(request, body, request.headers.host ?? 'localhost')
  if (Buffer.byteLength(JSON.stringify(event)) > MAX_EVENT_BYTES) {
    response
      .writeHead(413, { 'content-type': 'application/json' })
      .end('{"Message":"Request must be smaller than 6291456 bytes for the InvokeFunction operation"}')
    return
  }
  const result = (await lambda.handler(event as never, context(timeoutMs))) as {
    statusCode: number
    body?: string
    isBase64Encoded?: boolean
    headers?: Record<string, string>
    cookies?: string[]
  }
  // A Function URL answers over its own connection: hop-by-hop headers of the result (connection: close on a
  // refusal) are not passed on.
  const headers = Object.fromEntries(
    Object.entries(result.headers ?? {}).filter(([name]) => !HOP_BY_HOP.has(name.toLowerCase())),
  )
  response.writeHead(result.statusCode, { ...headers, ...(result.cookies ? { 'set-cookie': result.cookies } : {}) })
  response.end(
    result.body === undefined ? undefined : Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8'),
  )
}

const server = createServer((request, response) => {
  serve(request, response).catch((error: unknown) => {
    // What a Function URL answers when the function fails.
    console.error(String((error as Error)?.stack ?? error))
    if (!response.headersSent) response.writeHead(502, { 'content-type': 'application/json' })
    response.end('{"Message":"Internal Server Error"}')
  })
})

// A Function URL keeps its clients' connections open far longer than Node's 5 s default.
server.keepAliveTimeout = 65_000

let stopping = false
async function redrive(): Promise<void> {
  while (!stopping) {
    await lambda
      .scheduled(
        { source: 'aws.events', 'detail-type': 'Scheduled Event' },
        context(Math.max(scheduleMs, 10_000)) as never,
      )
      .catch((error: unknown) => console.error(`scheduled failed: ${String(error)}`))
    await new Promise((resolve) => setTimeout(resolve, scheduleMs))
  }
}

server.listen(Number(env.PORT ?? 8080), env.HOST ?? '127.0.0.1', () => {
  const { address, port } = server.address() as AddressInfo
  console.log(
    JSON.stringify({
      time: new Date().toISOString(),
      level: 'info',
      msg: 'listening',
      url: `http://${address}:${port}`,
      runtime: `lambda front on node ${process.version}`,
    }),
  )
  void redrive()
})

const stop = () => {
  if (stopping) process.exit(1)
  stopping = true
  server.close()
  server.closeAllConnections()
  void lambda.close().finally(() => {
    console.log(JSON.stringify({ time: new Date().toISOString(), level: 'info', msg: 'stopped' }))
    process.exit(0)
  })
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
