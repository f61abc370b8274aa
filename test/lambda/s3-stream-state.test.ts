/**
 * The Lambda handler's stream state on an S3 spool, where nothing runs in the background: the scheduled run sweeps
 * it (ended streams past streams.keepEnded, with their thumbnails), and does what a server does at start, once per
 * instance (a stream left ending with no check is ended, its alert handed on), while a cold start answering a hook
 * does not list the stream records. s3rver behind the conditional proxy, with a request log in front.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { createLambda } from '../../adapters/lambda.ts'
import { silentLogger } from '../../src/log.ts'
import { openS3StreamStore } from '../../src/backends/s3/stream-store.ts'
import { updateWithRetry } from '../../src/streams/stream-store.ts'
import type { ThumbnailRef } from '../../src/streams/stream-types.ts'
import { jpeg, PAYLOADS, SECRET, signedJson } from '../support/hooks.ts'
import { listFiles, tempDir } from '../support/files.ts'
import { S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, startS3Server, type S3TestServer } from '../support/s3-server.ts'
import { startConditionalProxy, type ConditionalProxy } from '../backends/s3/conditional-proxy.ts'
import { startRequestLog, type RequestLog } from '../backends/s3/request-log.ts'
import { functionUrlEvent, lambdaContext, scheduleEvent } from './events.ts'

const PATH = '/hooks/millicast'
const BUCKET = 'lambda-stream-state'
const DAY = 86_400_000
let server: S3TestServer
let proxy: ConditionalProxy
let log: RequestLog
const dir = tempDir('hookcast-lambda-streams-')

beforeAll(async () => {
  server = await startS3Server([BUCKET])
  proxy = await startConditionalProxy(server.endpoint)
  log = await startRequestLog(proxy.endpoint)
}, 60_000)
afterAll(async () => {
  await log?.stop()
  await proxy?.stop()
  await server?.stop()
  dir.remove()
})

const connection = () => ({
  bucket: BUCKET,
  endpoint: log.endpoint,
  region: S3_REGION,
  accessKeyId: S3_ACCESS_KEY,
  secretAccessKey: S3_SECRET_KEY,
})

/** keepEnded is shorter than the store's clock slack, so records S3 stamped just now are read by the sweep. */
const config = (prefix: string) => `
sources:
  millicast: { path: ${PATH}, secrets: ["\${MILLICAST_WEBHOOK_SECRET}"] }
sinks:
  alerts: { type: fs, dir: "${join(dir.path, prefix)}", key: "{event}/{streamId}/{id}.{ext}" }
routes:
  - when: { type: [stream] }
    to: [alerts]
spool: { type: s3, bucket: ${BUCKET}, endpoint: "${log.endpoint}", region: ${S3_REGION}, accessKeyId: ${S3_ACCESS_KEY}, secretAccessKey: ${S3_SECRET_KEY}, prefix: ${prefix} }
delivery:
  timeout: 5s
  retry: { schedule: [300ms], jitter: 0 }
streams: { flapWindow: 300ms, keepEnded: 2m }
`

function coldStart(prefix: string) {
  const lambda = createLambda(
    { HOOKCAST_CONFIG_YAML: config(prefix), MILLICAST_WEBHOOK_SECRET: SECRET },
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

/** The stream state as another invocation sees it, its clock `ago` ms behind. */
const stateAt = (prefix: string, ago: number) =>
  openS3StreamStore({ ...connection(), prefix, now: () => Date.now() - ago })

describe("the Lambda handler's stream state on an S3 spool", () => {
  it('the scheduled run forgets ended streams past streams.keepEnded, with their thumbnails; live and recent ones stay', async () => {
    const prefix = 'keep'
    const old = stateAt(prefix, DAY)
    const thumb: ThumbnailRef = {
      eventId: 'e1',
      timestamp: Date.now() - DAY,
      event: {
        id: 'e1',
        source: 'millicast',
        type: 'thumbnail',
        event: 'thumbnail',
        timestamp: 1,
        receivedAt: 1,
        streamId: 'LAMBDA/old',
        contentType: 'image/jpeg',
        bodySha256: '0'.repeat(64),
      },
    }
    await old.putThumbnail(thumb, jpeg('old', 1_000))
    await updateWithRetry(old, 'LAMBDA/old', (r) => {
      r.session = 'LAMBDA/old@1'
      r.emitted = { live: r.session, ended: r.session } // both alerts handed on: nothing left to do but forget it
      r.latestThumbnail = thumb
    })
    await updateWithRetry(old, 'LAMBDA/live', (r) => {
      r.status = 'live'
      r.session = 'LAMBDA/live@1'
      r.emitted.live = r.session
    })
    const recent = stateAt(prefix, 0)
    await updateWithRetry(recent, 'LAMBDA/recent', (r) => {
      r.streamName = 'recent'
    })

    const fn = coldStart(prefix)
    await fn.scheduled()
    expect((await recent.list()).map((r) => r.streamId).sort()).toEqual(['LAMBDA/live', 'LAMBDA/recent'])
    expect(await server.list(BUCKET, `${prefix}/thumbnails/`)).toEqual([])
    await fn.lambda.close()
    await Promise.all([old.close(), recent.close()])
  }, 60_000)

  it('a cold start answering a hook does not list the stream records; the first scheduled run ends a stream whose check was lost', async () => {
    const prefix = 'recover'
    const state = stateAt(prefix, 0)
    // Left ending, its flap window long over, with no check in the queue (a check that went to the dead letters).
    await updateWithRetry(state, 'LAMBDA/lost', (r) => {
      r.status = 'ending'
      r.session = 'LAMBDA/lost@1'
      r.liveSince = Date.now() - 3_600_000
      r.endingSince = Date.now() - 1_800_000
      r.emitted.live = r.session
      r.feeds.f1 = { started: r.liveSince, ended: r.endingSince }
    })
    const fn = coldStart(prefix)
    log.clear()
    const answer = await fn.invoke(functionUrlEvent(PATH, await signedJson(PAYLOADS.transcoderActive)))
    expect(answer.statusCode, answer.body).toBe(200)
    expect(log.lists(BUCKET, `${prefix}/streams/`)).toEqual([])
    expect(listFiles(join(dir.path, prefix))).toEqual([])

    await fn.scheduled()
    await fn.scheduled()
    const alerts = listFiles(join(dir.path, prefix))
    expect(alerts.filter((file) => file.startsWith('ended/LAMBDA/lost/'))).toHaveLength(1)
    expect((await state.get('LAMBDA/lost'))!.record).toMatchObject({
      status: 'ended',
      emitted: { ended: 'LAMBDA/lost@1' },
    })
    await fn.lambda.close()
    await state.close()
  }, 60_000)
})
