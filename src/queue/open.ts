/**
 * Replays dead letters from another process than the gateway's (the CLI), whatever the queue.
 * @module
 */
import type { Config } from '../config/schema.ts'
import { silentLogger } from '../log.ts'
import type { DeadLetterFilter, Queue } from './types.ts'

/**
 * The local queue belongs to the running gateway, so its dead letters are dropped into its inbox: the gateway
 * takes them within a second, or the next one to start does. A NATS or S3 queue is shared: any process replays directly.
 * Returns how many.
 */
export async function replayFromOutside(config: Config, filter: DeadLetterFilter, onProgress?: (done: number, total: number) => void): Promise<number> {
  const spool = config.spool
  if (spool.type === 'local') {
    const { queueLocalReplay } = await import('./local/dead-letters.ts')
    return queueLocalReplay(spool.dir, filter, onProgress)
  }
  let queue: Queue
  if (spool.type === 's3') {
    const { openS3Queue } = await import('./s3/s3-queue.ts')
    const { type: _type, dedupWindow, prefix, ...connection } = spool
    queue = await openS3Queue({ ...connection, prefix, dedupWindowMs: dedupWindow, sweepEveryMs: 0, log: silentLogger })
  } else {
    const { openNatsQueue } = await import('./nats/nats-queue.ts')
    queue = await openNatsQueue({
      servers: spool.servers, ...(spool.auth ? { auth: spool.auth } : {}), prefix: spool.prefix, replicas: spool.replicas,
      dedupWindowMs: spool.dedupWindow, ackWaitMs: spool.ackWait, sweepEveryMs: 0, log: silentLogger,
    })
  }
  try {
    const count = await queue.replay(filter)
    onProgress?.(count, count)
    return count
  } finally {
    await queue.close()
  }
}
