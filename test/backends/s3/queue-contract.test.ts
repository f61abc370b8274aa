/**
 * The queue contract against the S3 queue: s3rver behind the conditional proxy (conditional-proxy.ts: AWS's answers
 * to If-Match / If-None-Match, which s3rver ignores). Each queue has a prefix of its own in one bucket; reopening is
 * a new queue object on the same bucket and prefix (another Lambda invocation).
 */
import { openS3Queue } from '../../../src/backends/s3/queue.ts'
import type { Queue } from '../../../src/queue/types.ts'
import { silentLogger } from '../../../src/log.ts'
import { queueContract } from '../../queue/contract.ts'
import { conditionalBucket } from './conditional-proxy.ts'

const BUCKET = 'spool'
const s3 = conditionalBucket(BUCKET)

const prefixes = new WeakMap<Queue, { prefix: string; dedupWindowMs: number }>()
let count = 0

async function openAt(prefix: string, dedupWindowMs: number): Promise<Queue> {
  const queue = await openS3Queue({
    ...s3.connection(),
    prefix,
    dedupWindowMs,
    pollMs: 50,
    sweepEveryMs: 0,
    log: silentLogger,
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
