/**
 * The real gateway on Node, Deno and Bun storing into real S3 (s3rver) and GCS (the firebase-tools Storage emulator)
 * servers: signed thumbnails and JSON events are read back byte for byte with their content type and metadata,
 * retention keeps a stream bounded, and failures are dead-lettered or retried as classified.
 *
 * Delivery runs after the 200 (the spool), so every check polls until the object appears.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { RUNTIMES, startServer, type RunningServer } from '../support/runtimes.ts'
import {
  FEED_ID,
  jpeg,
  PAYLOADS,
  post,
  SECRET,
  signedJson,
  signedThumbnail,
  type SignedHook,
} from '../support/hooks.ts'
import { tempDir } from '../support/files.ts'
import { eventually } from '../support/wait.ts'
import { S3_ACCESS_KEY, S3_SECRET_KEY, startS3Server, type S3TestServer } from '../support/s3-server.ts'
import { startGcsServer, type GcsTestServer } from '../support/gcs-server.ts'
import { freePort } from '../support/ports.ts'

const BUCKET = 'hookcast-e2e'
const T0 = 1679973930415

let s3: S3TestServer
let gcs: GcsTestServer
let stoppedEndpoint: string

beforeAll(async () => {
  ;[s3, gcs] = await Promise.all([startS3Server([BUCKET]), startGcsServer()])
  stoppedEndpoint = `http://127.0.0.1:${await freePort()}`
}, 60_000)

afterAll(async () => {
  await Promise.all([s3?.stop(), gcs?.stop()])
})

describe.each(RUNTIMES)('cloud sinks on %s', (runtime) => {
  const dir = tempDir(`hookcast-cloud-${runtime}-`)
  let server: RunningServer
  let hookUrl: string

  beforeAll(async () => {
    const config = join(dir.path, 'config.yaml')
    // Endpoints and keys come from the environment, as they would in production.
    writeFileSync(
      config,
      `
sources:
  millicast: { path: /hooks/millicast, secrets: ["\${MILLICAST_WEBHOOK_SECRET}"] }
sinks:
  s3all: { type: s3, bucket: ${BUCKET}, endpoint: "\${S3_ENDPOINT}", key: "${runtime}/{type}/{streamId}/{timestamp}-{id}.{ext}" }
  gcsall: { type: gcs, bucket: ${BUCKET}, resumableAbove: 1MiB, key: "${runtime}/{type}/{streamId}/{timestamp}-{id}.{ext}" }
  s3keep:
    type: s3
    bucket: ${BUCKET}
    endpoint: "\${S3_ENDPOINT}"
    key: "${runtime}-keep/{streamId}/{date}/{timestamp}.{ext}"
    retention: { keepLatest: 2, sweepEvery: 0 }
  gcskeep:
    type: gcs
    bucket: ${BUCKET}
    key: "${runtime}-keep/{streamId}/{date}/{timestamp}.{ext}"
    retention: { keepLatest: 2, sweepEvery: 0 }
  s3missing: { type: s3, bucket: hookcast-missing, endpoint: "\${S3_ENDPOINT}" }
  s3down: { type: s3, bucket: ${BUCKET}, endpoint: "${stoppedEndpoint}" }
spool: { dir: "${join(dir.path, 'spool')}" }
routes:
  - when: { stream: "ZG6NWV/sample_stream", type: [thumbnail, feeds] }
    to: [s3all, gcsall]
  - when: { stream: "ZG6NWV/kept", type: thumbnail }
    to: [s3keep, gcskeep]
  - when: { type: transcoder }
    to: [s3missing, s3down]
`,
    )
    server = await startServer(runtime, config, {
      MILLICAST_WEBHOOK_SECRET: SECRET,
      S3_ENDPOINT: s3.endpoint,
      AWS_ACCESS_KEY_ID: S3_ACCESS_KEY,
      AWS_SECRET_ACCESS_KEY: S3_SECRET_KEY,
      AWS_REGION: 'us-east-1',
      // Nothing outside this machine: no instance metadata, no shared AWS files, GCS through the emulator.
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONFIG_FILE: join(dir.path, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(dir.path, 'no-aws-credentials'),
      STORAGE_EMULATOR_HOST: gcs.emulatorEndpoint,
      METADATA_SERVER_DETECTION: 'none',
    })
    hookUrl = `${server.url}/hooks/millicast`
  }, 60_000)

  afterAll(async () => {
    await server?.stop()
    dir.remove()
  })

  async function send(hook: SignedHook): Promise<string> {
    const response = await post(hookUrl, hook)
    expect(response.status).toBe(200)
    return ((await response.json()) as { id: string }).id
  }

  it('stores signed thumbnails and JSON events in both buckets byte for byte, with content type and metadata', async () => {
    const sizes = [0, 400_000, 3_000_000]
    const thumbs = await Promise.all(
      sizes.map((size, i) => signedThumbnail({ body: jpeg(`${runtime}-${i}`, size), timestamp: T0 + i })),
    )
    const feeds = await signedJson(PAYLOADS.feedsStarted)
    const ids = await Promise.all([...thumbs, feeds].map(send))

    const expected = [
      ...thumbs.map((hook, i) => ({
        hook,
        key: `${runtime}/thumbnail/ZG6NWV/sample_stream/${T0 + i}-${ids[i]}.jpg`,
        contentType: 'image/jpeg',
        metadata: {
          'stream-id': 'ZG6NWV/sample_stream',
          'feed-id': FEED_ID,
          type: 'thumbnail',
          event: 'thumbnail',
          timestamp: String(T0 + i),
          'hook-id': ids[i],
        },
      })),
      {
        hook: feeds,
        key: `${runtime}/feeds/ZG6NWV/sample_stream/1638463486489-${ids[3]}.json`,
        contentType: 'application/json',
        metadata: {
          'stream-id': 'ZG6NWV/sample_stream',
          'feed-id': FEED_ID,
          type: 'feeds',
          event: 'started',
          timestamp: '1638463486489',
          'hook-id': ids[3],
        },
      },
    ]
    for (const { hook, key, contentType, metadata } of expected) {
      for (const stored of [
        await eventually(() => s3.get(BUCKET, key)),
        await eventually(() => gcs.get(BUCKET, key)),
      ]) {
        expect(fingerprint(stored.body)).toEqual(fingerprint(hook.body))
        expect({
          contentType: stored.contentType,
          contentEncoding: stored.contentEncoding,
          metadata: stored.metadata,
        }).toEqual({ contentType, contentEncoding: undefined, metadata })
      }
    }
    expect(await s3.list(BUCKET, `${runtime}/`)).toEqual(expected.map((e) => e.key).sort())
    expect(await gcs.list(BUCKET, `${runtime}/`)).toEqual(expected.map((e) => e.key).sort())
  })

  it('keeps only the newest thumbnails of a stream when retention is set', async () => {
    const keys: string[] = []
    for (let i = 0; i < 5; i++) {
      const timestamp = T0 + i * 30_000
      await send(await signedThumbnail({ body: jpeg(`${runtime}-keep-${i}`), streamId: 'ZG6NWV/kept', timestamp }))
      const key = `${runtime}-keep/ZG6NWV/kept/2023-03-28/${timestamp}.jpg`
      keys.push(key)
      // One at a time, as a live stream sends them: each put sweeps after the previous one's sweep.
      await eventually(async () => (await s3.get(BUCKET, key)) && (await gcs.get(BUCKET, key)))
    }
    const newest = keys.slice(-2)
    await eventually(async () => expect(await s3.list(BUCKET, `${runtime}-keep/`)).toEqual(newest))
    await eventually(async () => expect(await gcs.list(BUCKET, `${runtime}-keep/`)).toEqual(newest))
  })

  it('dead-letters a missing bucket and retries an unreachable store, saying why', async () => {
    await send(await signedJson(PAYLOADS.transcoderActive))
    const line = (level: string, text: string) =>
      server.logs.find((l) => l.includes(`"level":"${level}"`) && l.includes(text))
    await eventually(() => line('error', 'bucket \\"hookcast-missing\\" does not exist at http://127.0.0.1:'))
    await eventually(() => line('warn', `cannot reach ${stoppedEndpoint} to write s3://${BUCKET}/`))
    expect(line('error', `cannot reach ${stoppedEndpoint}`)).toBeUndefined()
  })
})

/** Exact equality of large bodies, cheaply: length and SHA-256 (an element-wise diff of megabytes takes seconds). */
function fingerprint(bytes: Uint8Array): { bytes: number; sha256: string } {
  return { bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') }
}
