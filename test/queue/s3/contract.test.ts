/**
 * The queue contract against the S3 queue: s3rver behind the conditional proxy (conditional-proxy.ts: AWS's answers
 * to If-Match / If-None-Match, which s3rver ignores). Each queue has a prefix of its own in one bucket; reopening is
 * a new queue object on the same bucket and prefix (another Lambda invocation).
 */
import { afterAll, beforeAll } from 'vitest'
import { openS3Queue } from '../../../src/queue/s3/s3-queue.ts'
import type { Queue } from '../../../src/queue/types.ts'
import { silentLogger } from '../../../src/log.ts'
import { S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, startS3Server, type S3TestServer } from '../../support/s3-server.ts'
import { queueContract } from '../contract.ts'
import { startConditionalProxy, type ConditionalProxy } from './conditional-proxy.ts'

const BUCKET = 'spool'
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

const prefixes = new WeakMap<Queue, { prefix: string; dedupWindowMs: number }>()
let count = 0

async function openAt(prefix: string, dedupWindowMs: number): Promise<Queue> {
  const queue = await openS3Queue({
    bucket: BUCKET, endpoint: proxy.endpoint, region: S3_REGION, accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY,
    prefix, dedupWindowMs, pollMs: 50, sweepEveryMs: 0, log: silentLogger,
  })
  prefixes.set(queue, { prefix, dedupWindowMs })
  return queue
}

queueContract({
  name: 's3',
  open: ({ dedupWindowMs }) => openAt(`contract${count++}`, dedupWindowMs),
  async reopen(queue) {
    const { prefix, dedupWindowMs } = prefixes.get(queue)!
    await queue.close()
    return openAt(prefix, dedupWindowMs)
  },
})
