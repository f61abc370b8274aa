/**
 * The Lambda handler with `spool: { type: s3 }`, as deployed: what a down destination could not take before the
 * answer waits in the bucket, and a scheduled run of another cold start (another instance) delivers it once it is
 * back; with the bucket unreachable the answer is 503. s3rver behind the conditional proxy of the S3 queue's tests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { createServer, request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { createLambda } from '../../adapters/lambda.ts'
import { silentLogger } from '../../src/log.ts'
import { jpeg, PAYLOADS, SECRET, signedJson, signedThumbnail } from '../support/hooks.ts'
import { listFiles, tempDir } from '../support/files.ts'
import { startReceiver, type Receiver } from '../support/receiver.ts'
import { S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, startS3Server, type S3TestServer } from '../support/s3-server.ts'
import { startConditionalProxy, type ConditionalProxy } from '../backends/s3/conditional-proxy.ts'
import { functionUrlEvent, lambdaContext, scheduleEvent } from './events.ts'

const PATH = '/hooks/millicast'
const BUCKET = 'lambda-s3-spool'
let server: S3TestServer
let proxy: ConditionalProxy
let receiver: Receiver
const dir = tempDir('hookcast-lambda-s3-')

beforeAll(async () => {
  server = await startS3Server([BUCKET])
  proxy = await startConditionalProxy(server.endpoint)
  receiver = await startReceiver()
}, 60_000)
afterAll(async () => {
  await receiver?.close()
  await proxy?.stop()
  await server?.stop()
  dir.remove()
})

const config = (endpoint: string) => `
sources:
  millicast: { path: ${PATH}, secrets: ["\${MILLICAST_WEBHOOK_SECRET}"] }
sinks:
  disk: { type: fs, dir: "${join(dir.path, 'data')}", key: "{type}/{id}.{ext}" }
  alerts: { type: fs, dir: "${join(dir.path, 'alerts')}", key: "{event}/{streamId}/{id}.{ext}" }
notifiers:
  hook: { type: http, url: "${receiver.url}/in" }
routes:
  - to: [disk, hook]
  - when: { type: [stream] }
    to: [alerts]
spool: { type: s3, bucket: ${BUCKET}, endpoint: "${endpoint}", region: ${S3_REGION}, accessKeyId: ${S3_ACCESS_KEY}, secretAccessKey: ${S3_SECRET_KEY}, prefix: spool }
delivery:
  timeout: 5s
  retry: { schedule: [300ms], jitter: 0 }
streams: { flapWindow: 300ms }
`

/** One cold start of the function. */
function coldStart(endpoint = proxy.endpoint) {
  const lambda = createLambda(
    { HOOKCAST_CONFIG_YAML: config(endpoint), MILLICAST_WEBHOOK_SECRET: SECRET },
    { log: silentLogger },
  )
  return {
    lambda,
    invoke: async (event: unknown) =>
      (await lambda.handler(event as Parameters<typeof lambda.handler>[0], lambdaContext(30_000))) as {
        statusCode: number
        body: string
      },
    scheduled: () => lambda.scheduled(scheduleEvent(), lambdaContext(60_000)),
  }
}

describe('the Lambda handler on an S3 spool', () => {
  it("keeps what a down destination could not take in the bucket; another instance's scheduled run delivers it", async () => {
    let up = false
    receiver.answer = () => (up ? {} : { status: 503 })
    const first = coldStart()
    const hook = await signedJson(PAYLOADS.transcoderActive)
    const answer = await first.invoke(functionUrlEvent(PATH, hook))
    expect(answer.statusCode, answer.body).toBe(200)
    const { id } = JSON.parse(answer.body) as { id: string }
    const stored = listFiles(join(dir.path, 'data')).find((file) => file.includes(id))
    expect(stored && new Uint8Array(readFileSync(join(dir.path, 'data', stored)))).toEqual(hook.body) // the sink that was up, before the answer
    expect(receiver.requests).toHaveLength(1)
    await first.lambda.close()

    up = true
    await new Promise((resolve) => setTimeout(resolve, 350))
    const second = coldStart()
    expect(await second.scheduled()).toMatchObject({ delivered: 1, dead: 0 })
    expect(receiver.requests).toHaveLength(2)
    expect((JSON.parse(receiver.requests[1]!.body.toString()) as { id: string }).id).toBe(id)
    expect((await second.scheduled()).delivered).toBe(0) // nothing left
    await second.lambda.close()
  }, 60_000)

  it('concurrent invocations on one stream (state in the bucket, conditional writes) make one live and one ended', async () => {
    receiver.answer = () => ({})
    const [a, b] = [coldStart(), coldStart()]
    const streamId = 'LAMBDA/race'
    const t0 = Date.now() - 60_000
    const data = { ...PAYLOADS.feedsStarted.data, streamId, name: 'race', accountId: 'LAMBDA', started: t0 }
    const started = await signedJson({ ...PAYLOADS.feedsStarted, timestamp: t0 + 5, data })
    const thumb = await signedThumbnail({ body: jpeg('lambda-race'), streamId, timestamp: t0 + 1_000 })
    const answers = await Promise.all([
      a.invoke(functionUrlEvent(PATH, started)),
      b.invoke(functionUrlEvent(PATH, thumb)),
      b.invoke(functionUrlEvent(PATH, started)),
    ])
    expect(answers.map((r) => r.statusCode)).toEqual([200, 200, 200])
    const ended = await signedJson({
      ...PAYLOADS.feedsEnded,
      timestamp: t0 + 9_000,
      data: { ...PAYLOADS.feedsEnded.data, streamId, name: 'race', accountId: 'LAMBDA', ended: t0 + 9_000 },
    })
    expect((await a.invoke(functionUrlEvent(PATH, ended))).statusCode).toBe(200)
    await new Promise((resolve) => setTimeout(resolve, 400)) // the flap window passes
    await Promise.all([a.scheduled(), b.scheduled()]) // the end of the session runs from scheduled
    await a.scheduled()
    const alerts = listFiles(join(dir.path, 'alerts'))
    expect(alerts.filter((f) => f.startsWith('live/LAMBDA/race/'))).toHaveLength(1)
    expect(alerts.filter((f) => f.startsWith('ended/LAMBDA/race/'))).toHaveLength(1)
    await a.lambda.close()
    await b.lambda.close()
  }, 60_000)

  it('answers 503 when the bucket cannot be reached (never a 200 for what it could not keep)', async () => {
    const own = await startConditionalProxy(server.endpoint)
    const cut = coldStart(own.endpoint)
    const warm = await signedJson({ ...PAYLOADS.transcoderActive, timestamp: PAYLOADS.transcoderActive.timestamp + 1 })
    expect((await cut.invoke(functionUrlEvent(PATH, warm))).statusCode).toBe(200) // started with the bucket there
    await own.stop() // then S3 goes away
    const hook = await signedJson({ ...PAYLOADS.transcoderActive, timestamp: PAYLOADS.transcoderActive.timestamp + 2 })
    const answer = await cut.invoke(functionUrlEvent(PATH, hook))
    expect(answer.statusCode, answer.body).toBe(503)
    await cut.lambda.close().catch(() => {})
  }, 60_000)

  it('starts on the next request when the bucket was unreachable at the cold start', async () => {
    let open = false
    // A gate in front of the bucket: closed (connection refused-like 503s) at the cold start, then open.
    const gate = createServer((req, res) => {
      if (!open) return void res.writeHead(503).end()
      const target = new URL(proxy.endpoint)
      const upstream = httpRequest(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers)
          answer.pipe(res)
        },
      )
      req.pipe(upstream)
    })
    await new Promise<void>((resolve) => gate.listen(0, '127.0.0.1', resolve))
    const { port } = gate.address() as AddressInfo
    const instance = coldStart(`http://127.0.0.1:${port}`)
    try {
      const hook = await signedJson({
        ...PAYLOADS.transcoderActive,
        timestamp: PAYLOADS.transcoderActive.timestamp + 3,
      })
      expect((await instance.invoke(functionUrlEvent(PATH, hook))).statusCode).toBe(500)
      open = true
      const again = await instance.invoke(functionUrlEvent(PATH, hook))
      expect(again.statusCode, again.body).toBe(200)
    } finally {
      await instance.lambda.close().catch(() => {})
      await new Promise((resolve) => gate.close(resolve))
    }
  }, 60_000)
})
