/** The queue contract against the in-memory reference queue. */
import { memoryQueue } from '../../src/queue/memory-queue.ts'
import { memoryDedupWindow } from '../../src/queue/dedup.ts'
import { queueContract } from './contract.ts'

queueContract({
  name: 'memory',
  open: async ({ dedupWindowMs }) => memoryQueue({ dedup: memoryDedupWindow(dedupWindowMs) }),
})
