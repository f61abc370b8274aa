/**
 * The sink contract against the Cloud Storage JSON API of the firebase-tools emulator, with the failures the real
 * client library raises for GCS's answers (missing bucket, refused identity, revoked key, no credentials, throttling),
 * a stopped server and a missing key file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateKeyPairSync } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createGcsSink } from '../../src/sinks/gcs.ts'
import { gcsSinkConfig } from '../../src/config/gcs-sink.ts'
import { startGcsServer, type GcsTestServer } from '../support/gcs-server.ts'
import { freePort } from '../support/ports.ts'
import { tempDir } from '../support/files.ts'
import { sinkContract } from './contract.ts'
import { makeEvent } from '../support/events.ts'
import { jpeg } from '../support/hooks.ts'

const BUCKET = 'hookcast-thumbs'
const dir = tempDir('hookcast-gcs-sink-')
// A service account key made here: V4 URL signing happens locally with it, so no Google service is asked.
const keyFile = join(dir.path, 'service-account.json')
writeFileSync(
  keyFile,
  JSON.stringify({
    type: 'service_account',
    project_id: 'demo-hookcast',
    client_email: 'hookcast@demo-hookcast.iam.gserviceaccount.com',
    private_key: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    }),
  }),
)
// No Application Default Credentials may be found here, whatever the machine has.
process.env.CLOUDSDK_CONFIG = dir.path
delete process.env.GOOGLE_APPLICATION_CREDENTIALS

let server: GcsTestServer
let stoppedEndpoint: string
beforeAll(async () => {
  server = await startGcsServer()
  server.refuse('missing-bucket', 'missing')
  server.refuse('locked-bucket', 'denied')
  server.refuse('revoked-bucket', 'unauthenticated')
  server.refuse('busy-bucket', 'throttled')
  server.refuse('private-bucket', 'anonymous')
  stoppedEndpoint = `http://127.0.0.1:${await freePort()}`
})
afterAll(async () => {
  await server?.stop()
  dir.remove()
})

const gcs = (fields: Record<string, unknown>, options = {}) =>
  createGcsSink(
    'pics',
    gcsSinkConfig.parse({
      type: 'gcs',
      bucket: BUCKET,
      apiEndpoint: server.endpoint,
      keyFilename: keyFile,
      ...fields,
    }),
    options,
  )

sinkContract({
  name: 'gcs',
  make: (config, options) => gcs(config, options),
  readBack: (key) => server.get(BUCKET, key),
  list: (prefix) => server.list(BUCKET, prefix),
  keepsMetadata: true,
  makesUrls: true,
  failures: [
    {
      what: 'missing bucket (404)',
      make: () => gcs({ bucket: 'missing-bucket' }),
      permanent: true,
      message: /bucket "missing-bucket" does not exist \(404\): create it or fix sinks\.pics\.bucket/,
    },
    {
      what: 'identity may not write (403)',
      make: () => gcs({ bucket: 'locked-bucket' }),
      permanent: true,
      message:
        /grant the service account roles\/storage\.objectUser \(storage\.objects\.create, and storage\.objects\.delete to overwrite\) on bucket "locked-bucket"/,
    },
    {
      what: 'revoked key (401)',
      make: () => gcs({ bucket: 'revoked-bucket' }),
      permanent: true,
      message: /rejected the credentials \(401\): fix GOOGLE_APPLICATION_CREDENTIALS or sinks\.pics\.keyFilename/,
    },
    {
      what: 'rate limited (429)',
      make: () => gcs({ bucket: 'busy-bucket' }),
      permanent: false,
      message: /throttling .*will retry/,
    },
    {
      what: 'stopped server',
      make: () => gcs({ apiEndpoint: stoppedEndpoint }),
      permanent: false,
      message: /cannot reach Google Cloud Storage .*will retry/,
    },
    {
      what: 'no credentials sent (401, anonymous caller)',
      make: () => gcs({ bucket: 'private-bucket', keyFilename: undefined }),
      permanent: true,
      message:
        /got a request without credentials \(401\): set GOOGLE_APPLICATION_CREDENTIALS or sinks\.pics\.keyFilename/,
    },
    // Without an endpoint the library reads the key file before sending anything, and fails there.
    {
      what: 'key file missing',
      make: () => gcs({ apiEndpoint: undefined, keyFilename: join(dir.path, 'gone.json') }),
      permanent: true,
      message: /cannot read the key file .*gone\.json: fix sinks\.pics\.keyFilename/,
    },
  ],
})

describe('gcs options', () => {
  it('uploads bodies above resumableAbove in a resumable session, byte for byte', async () => {
    const event = makeEvent({ id: 'big1', body: jpeg('big', 600_000) })
    await gcs({ key: 'options/{id}.{ext}', resumableAbove: '100KB' }).deliver(event)
    expect(Buffer.from((await server.get(BUCKET, 'options/big1.jpg'))!.body)).toEqual(Buffer.from(event.body))
  })

  it('signs for urlExpiry, answers the public base URL, and says why it cannot sign for an emulator without a key', async () => {
    const event = makeEvent({ id: 'opt1' })
    const url = new URL(await gcs({ key: 'options/{id}.{ext}', urlExpiry: '1h' }).urlFor!(event))
    expect([url.origin + url.pathname, url.searchParams.get('X-Goog-Expires')]).toEqual([
      `${server.endpoint}/${BUCKET}/options/opt1.jpg`,
      '3600',
    ])
    expect(
      await gcs({ key: 'options/{id}.{ext}', keyFilename: undefined, publicBaseUrl: 'https://cdn.example.com' })
        .urlFor!(event),
    ).toBe('https://cdn.example.com/options/opt1.jpg')
    await expect(gcs({ key: 'options/{id}.{ext}', keyFilename: undefined }).urlFor!(event)).rejects.toThrow(
      /^sinks\.pics: cannot sign URLs for http:\/\/127\.0\.0\.1:\d+ without a service account key: set sinks\.pics\.keyFilename or sinks\.pics\.publicBaseUrl$/,
    )
  })
})
