/** The queue contract against NATS JetStream: a real nats-server; reopening is a new connection to the same server. */
import { afterAll, beforeAll } from 'vitest'
import { openNatsQueue, type NatsQueue } from '../../../src/backends/nats/queue.ts'
import type { Queue } from '../../../src/queue/types.ts'
import { silentLogger } from '../../../src/log.ts'
import { startNatsServer, type NatsTestServer } from '../../support/nats-server.ts'
import { queueContract } from '../../queue/contract.ts'

let server: NatsTestServer
beforeAll(async () => {
  server = await startNatsServer()
})
afterAll(() => server?.remove())

const prefixes = new WeakMap<Queue, { prefix: string; dedupWindowMs: number }>()
let count = 0

async function openAt(prefix: string, dedupWindowMs: number): Promise<NatsQueue> {
  const queue = await openNatsQueue({ servers: [server.url], prefix, dedupWindowMs, log: silentLogger })
  prefixes.set(queue, { prefix, dedupWindowMs })
  return queue
}

queueContract({
  name: 'nats',
  open: ({ dedupWindowMs }) => openAt(`contract${count++}`, dedupWindowMs),
  async reopen(queue) {
    const { prefix, dedupWindowMs } = prefixes.get(queue)!
    await queue.close()
    return openAt(prefix, dedupWindowMs)
  },
})
