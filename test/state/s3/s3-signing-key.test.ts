/** The signing key store contract against S3: s3rver behind the conditional proxy, a prefix per round. */
import { afterAll, beforeAll } from 'vitest'
import { s3SigningKeyStore } from '../../../src/state/s3/s3-signing-key.ts'
import { S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, startS3Server, type S3TestServer } from '../../support/s3-server.ts'
import { startConditionalProxy, type ConditionalProxy } from '../../queue/s3/conditional-proxy.ts'
import { signingKeyContract } from '../signing-key.contract.ts'

const BUCKET = 'keys'
let server: S3TestServer
let proxy: ConditionalProxy
beforeAll(async () => {
  server = await startS3Server([BUCKET])
  proxy = await startConditionalProxy(server.endpoint)
})
afterAll(async () => {
  await proxy?.stop()
  await server?.stop()
})

let count = 0
const at = (prefix: string) => s3SigningKeyStore({
  bucket: BUCKET, endpoint: proxy.endpoint, region: S3_REGION, accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY, prefix,
})

signingKeyContract({
  name: 's3',
  open: () => at(`k${++count}`),
  openAgain: () => at(`k${count}`),
})
