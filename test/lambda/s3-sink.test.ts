/**
 * The Lambda handler storing into a real S3 API (s3rver): the objects are in the bucket, byte for byte with their
 * content type, by the time the handler answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { createLambda } from '../../adapters/lambda.ts'
import { silentLogger } from '../../src/log.ts'
import { jpeg, PAYLOADS, SECRET, signedJson, signedThumbnail } from '../support/hooks.ts'
import { tempDir } from '../support/files.ts'
import { S3_ACCESS_KEY, S3_SECRET_KEY, startS3Server, type S3TestServer } from '../support/s3-server.ts'
import { functionUrlEvent, lambdaContext, restApiEvent } from './events.ts'

const BUCKET = 'hookcast-lambda'
const PATH = '/hooks/millicast'

describe('the Lambda handler with an S3 sink', () => {
  const dir = tempDir('hookcast-lambda-s3-')
  let s3: S3TestServer
  let lambda: ReturnType<typeof createLambda>

  beforeAll(async () => {
    s3 = await startS3Server([BUCKET])
    lambda = createLambda(
      {
        HOOKCAST_CONFIG_YAML: `
sources:
  millicast: { path: ${PATH}, secrets: ["\${MILLICAST_WEBHOOK_SECRET}"] }
sinks:
  bucket:
    type: s3
    bucket: ${BUCKET}
    endpoint: "\${S3_ENDPOINT}"
    accessKeyId: "\${S3_KEY}"
    secretAccessKey: "\${S3_SECRET}"
    key: "hooks/{type}/{id}.{ext}"
routes: [{ to: [bucket] }]
spool: { dir: "${join(dir.path, 'spool')}" }
`,
        MILLICAST_WEBHOOK_SECRET: SECRET,
        S3_ENDPOINT: s3.endpoint,
        S3_KEY: S3_ACCESS_KEY,
        S3_SECRET: S3_SECRET_KEY,
      },
      { log: silentLogger },
    )
  }, 60_000)
  afterAll(async () => {
    await lambda?.close()
    await s3?.stop()
    dir.remove()
  })

  const invoke = async (event: unknown) => {
    const result = (await lambda.handler(
      event as Parameters<typeof lambda.handler>[0],
      lambdaContext(30_000) as never,
    )) as { statusCode: number; body: string }
    expect(result.statusCode, result.body).toBe(200)
    return (JSON.parse(result.body) as { id: string }).id
  }

  it('has a thumbnail from a REST API and a JSON hook from a Function URL in the bucket when it answers', async () => {
    const thumbnail = await signedThumbnail({ body: jpeg('lambda-s3', 2_000_000) })
    const feed = await signedJson(PAYLOADS.feedsStarted)
    const [thumbnailId, feedId] = [
      await invoke(restApiEvent(PATH, thumbnail, ['image/jpeg'])),
      await invoke(functionUrlEvent(PATH, feed)),
    ]

    const jpg = await s3.get(BUCKET, `hooks/thumbnail/${thumbnailId}.jpg`)
    expect(jpg?.contentType).toBe('image/jpeg')
    expect(jpg?.contentEncoding).toBeUndefined() // not the samples' bogus `base64`
    expect(Buffer.from(jpg!.body).equals(Buffer.from(thumbnail.body))).toBe(true)
    const json = await s3.get(BUCKET, `hooks/feeds/${feedId}.json`)
    expect(json?.contentType).toBe('application/json')
    expect(Buffer.from(json!.body).equals(Buffer.from(feed.body))).toBe(true)
  })
})
