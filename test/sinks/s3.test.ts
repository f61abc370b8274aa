/** The sink contract against a real S3 API (s3rver), with the failures it really produces. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createS3Sink } from '../../src/sinks/s3.ts'
import { s3SinkConfig } from '../../src/config/s3-sink.ts'
import { S3_ACCESS_KEY, S3_SECRET_KEY, startS3Server, type S3TestServer } from '../support/s3-server.ts'
import { freePort } from '../support/ports.ts'
import { sinkContract } from './contract.ts'
import { makeEvent } from '../support/events.ts'

const BUCKET = 'hookcast-thumbs'
let server: S3TestServer
let stoppedEndpoint: string
beforeAll(async () => {
  server = await startS3Server([BUCKET])
  stoppedEndpoint = `http://127.0.0.1:${await freePort()}`
})
afterAll(() => server?.stop())

const s3 = (fields: Record<string, unknown>, options = {}) =>
  createS3Sink(
    'pics',
    s3SinkConfig.parse({
      type: 's3',
      bucket: BUCKET,
      endpoint: server.endpoint,
      accessKeyId: S3_ACCESS_KEY,
      secretAccessKey: S3_SECRET_KEY,
      ...fields,
    }),
    options,
  )

sinkContract({
  name: 's3',
  make: (config, options) => s3(config, options),
  readBack: (key) => server.get(BUCKET, key),
  list: (prefix) => server.list(BUCKET, prefix),
  keepsMetadata: true,
  makesUrls: true,
  failures: [
    {
      what: 'missing bucket',
      make: () => s3({ bucket: 'no-such-bucket' }),
      permanent: true,
      message:
        /bucket "no-such-bucket" does not exist at http:\/\/127\.0\.0\.1:\d+: create it or fix sinks\.pics\.bucket/,
    },
    {
      what: 'unknown access key',
      make: () => s3({ accessKeyId: 'AKIAWRONGKEY', secretAccessKey: 'wrong-secret-value' }),
      permanent: true,
      message: /does not know the access key id: fix AWS_ACCESS_KEY_ID/,
      secrets: ['AKIAWRONGKEY', 'wrong-secret-value'],
    },
    {
      what: 'stopped server',
      make: () => s3({ endpoint: stoppedEndpoint }),
      permanent: false,
      message: /cannot reach http:\/\/127\.0\.0\.1:\d+ to write s3:\/\/hookcast-thumbs\/.*will retry/,
    },
  ],
})

describe('s3 options', () => {
  const event = makeEvent({ id: 'opt1', body: new Uint8Array([0xff, 0xd8, 0xff, 0x00, 0x80]) })

  it('stores with the storage class and canned ACL asked for', async () => {
    const sink = s3({ key: 'options/{id}.{ext}', storageClass: 'STANDARD_IA', acl: 'public-read' })
    await sink.deliver(event)
    expect((await server.get(BUCKET, 'options/opt1.jpg'))?.storageClass).toBe('STANDARD_IA')
  })

  it('presigns for urlExpiry, or answers the public base URL', async () => {
    const url = new URL(await s3({ key: 'options/{id}.{ext}', urlExpiry: '1h' }).urlFor!(event))
    expect([url.origin + url.pathname, url.searchParams.get('X-Amz-Expires')]).toEqual([
      `${server.endpoint}/${BUCKET}/options/opt1.jpg`,
      '3600',
    ])
    expect(
      await s3({ key: 'options/{id}.{ext}', publicBaseUrl: 'https://cdn.example.com/thumbs/' }).urlFor!(event),
    ).toBe('https://cdn.example.com/thumbs/options/opt1.jpg')
  })

  it("gives public URLs that carry a key's escapes as they are stored (issue 20, item 2)", async () => {
    const sink = s3({ key: 'public/{streamName}/{id}.{ext}', publicBaseUrl: `${server.endpoint}/${BUCKET}` })
    const escaped = { ...event, streamName: 'a b%日' }
    await sink.deliver(escaped)
    expect(sink.keyFor(escaped)).toBe('public/a%20b%25%E6%97%A5/opt1.jpg')
    const url = await sink.urlFor!(escaped)
    expect(url).toBe(`${server.endpoint}/${BUCKET}/public/a%2520b%2525%25E6%2597%25A5/opt1.jpg`)
    const response = await fetch(url)
    expect(response.status).toBe(200)
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(event.body)
  })
})
