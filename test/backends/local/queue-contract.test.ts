/** The queue contract against the local segment-log queue, reopened from its directory. */
import { afterAll } from 'vitest'
import { openLocalQueue } from '../../../src/backends/local/queue.ts'
import type { Queue } from '../../../src/queue/types.ts'
import { memoryDedupWindow } from '../../../src/queue/dedup.ts'
import { silentLogger } from '../../../src/log.ts'
import { tempDir } from '../../support/files.ts'
import { queueContract } from '../../queue/contract.ts'

const root = tempDir('hookcast-local-queue-')
afterAll(() => root.remove())
const dirs = new WeakMap<Queue, { dir: string; dedupWindowMs: number }>()
let count = 0

async function openAt(dir: string, dedupWindowMs: number): Promise<Queue> {
  const queue = await openLocalQueue({
    dir,
    fsync: false,
    maxBytes: 1e9,
    segmentBytes: 1024 * 1024,
    cacheBytes: 1024 * 1024,
    dedup: memoryDedupWindow(dedupWindowMs),
    log: silentLogger,
  })
  dirs.set(queue, { dir, dedupWindowMs })
  return queue
}

queueContract({
  name: 'local',
  open: ({ dedupWindowMs }) => openAt(`${root.path}/q${count++}`, dedupWindowMs),
  async reopen(queue) {
    const { dir, dedupWindowMs } = dirs.get(queue)!
    await queue.close()
    return openAt(dir, dedupWindowMs)
  },
})
