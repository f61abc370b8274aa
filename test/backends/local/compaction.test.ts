/**
 * The local queue copies the few events holding its oldest segment back forward, so the segment can go. Deliveries
 * that finish while that copy is under way must stay finished: no ghost event, no delivery made pending again.
 */
import { afterEach, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { openLocalQueue } from '../../../src/backends/local/queue.ts'
import type { Queue } from '../../../src/queue/types.ts'
import type { HookEvent } from '../../../src/events/types.ts'
import { silentLogger } from '../../../src/log.ts'
import { tempDir } from '../../support/files.ts'
import { eventually, sleep } from '../../support/wait.ts'

const dir = tempDir('hookcast-compaction-')
let queue: Queue | undefined
afterEach(async () => {
  await queue?.close()
  dir.remove()
})
const open = () =>
  openLocalQueue({
    dir: dir.path,
    fsync: false,
    maxBytes: 1 << 30,
    segmentBytes: 1024 * 1024,
    cacheBytes: 1 << 26,
    log: silentLogger,
  })

function event(i: number, size: number): HookEvent {
  const body = new TextEncoder().encode(JSON.stringify({ i, pad: 'x'.repeat(size) }))
  return {
    id: createHash('sha256').update(`e${i}`).digest('hex').slice(0, 24),
    source: 'm',
    type: 'feeds',
    event: 'started',
    timestamp: 1,
    receivedAt: Date.now(),
    contentType: 'application/json',
    body,
    bodySha256: createHash('sha256').update(body).digest('hex'),
  }
}

it('keeps deliveries that finish while their events are copied forward finished, across a restart too', async () => {
  queue = await open()
  for (let i = 0; i < 400; i++) await queue.put(event(i, 1000), ['a'])
  await queue.put(event(99_999, 700_000), ['b']) // starts a new segment: the 400 stay behind in the first
  const [filler] = await queue.claim({ destination: 'b', max: 1, leaseMs: 60_000 })
  await queue.ack(filler!)
  const claims = await queue.claim({ destination: 'a', max: 400, leaseMs: 60_000 })
  expect(claims).toHaveLength(400)
  // Given back untouched (as a shut-down worker does), so the maintenance sees stragglers it may copy forward.
  for (const claim of claims) await queue.retry(claim, 0)
  const before = (await queue.stats()).bytes
  await eventually(async () => (await queue!.stats()).bytes !== before, 10_000, 1) // the copy has started
  const again = await queue.claim({ destination: 'a', max: 400, leaseMs: 60_000 })
  await Promise.all(
    [0, 1, 2, 3].map(async (lane) => {
      for (let k = again.length - 1 - lane; k >= 0; k -= 4) await queue!.ack(again[k]!)
    }),
  )
  await sleep(2_500)
  expect(await queue.stats()).toMatchObject({ pendingEvents: 0, pendingDeliveries: 0 })
  await queue.close()
  queue = await open()
  expect(await queue.stats()).toMatchObject({ pendingEvents: 0, pendingDeliveries: 0 })
  expect(await queue.claim({ max: 10, leaseMs: 1_000 })).toEqual([])
}, 30_000)
