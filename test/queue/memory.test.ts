/** The queue contract against the in-memory reference queue. */
import { memoryQueue } from '../../src/queue/memory.ts'
import { memoryDedupWindow } from '../../src/state/dedup.ts'
import { queueContract } from './contract.ts'

queueContract({
  name: 'memory',
  open: async ({ dedupWindowMs }) => memoryQueue({ dedup: memoryDedupWindow(dedupWindowMs) }),
})
