/**
 * `ClaimOptions.eventId`: a serverless handler claims the deliveries of the event it has just put, not the oldest
 * due ones. Checked on the memory and local queues (the claim board); a candidate for the queue contract.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { memoryQueue } from '../../src/queue/memory-queue.ts'
import { openLocalQueue } from '../../src/backends/local/queue.ts'
import type { Queue } from '../../src/queue/types.ts'
import { silentLogger } from '../../src/log.ts'
import { makeEvent } from '../support/events.ts'
import { tempDir } from '../support/files.ts'

/** Each queue on the clock given (leases and due times are read from it). */
const QUEUES: Record<string, (now?: () => number) => Promise<{ queue: Queue; done(): void }>> = {
  memory: async (now) => ({ queue: memoryQueue(now ? { now } : {}), done() {} }),
  local: async (now) => {
    const dir = tempDir('hookcast-claim-event-')
    const queue = await openLocalQueue({
      dir: dir.path,
      fsync: false,
      maxBytes: 1 << 26,
      segmentBytes: 1 << 20,
      cacheBytes: 1 << 20,
      log: silentLogger,
      ...(now ? { now } : {}),
    })
    return { queue, done: () => dir.remove() }
  },
}

describe.each(Object.keys(QUEUES))('claim by event on the %s queue', (name) => {
  let opened: { queue: Queue; done(): void } | undefined
  afterEach(async () => {
    await opened?.queue.close()
    opened?.done()
  })

  it("claims that event's due deliveries only, of one destination or all, and leaves the rest to ordinary claims", async () => {
    opened = await QUEUES[name]!()
    const { queue } = opened
    const older = makeEvent({ id: 'older', body: new Uint8Array([1]) })
    const mine = makeEvent({ id: 'mine', body: new Uint8Array([2]) })
    await queue.put(older, ['disk', 'hook'])
    await queue.put(mine, ['disk', 'hook', 'slack'])

    const one = await queue.claim({ destination: 'hook', eventId: 'mine', max: 5, leaseMs: 60_000 })
    expect(one.map((c) => `${c.eventId}>${c.destination}`)).toEqual(['mine>hook'])
    const rest = await queue.claim({ eventId: 'mine', max: 5, leaseMs: 60_000 })
    expect(rest.map((c) => `${c.eventId}>${c.destination}`).sort()).toEqual(['mine>disk', 'mine>slack'])
    // Claimed ones are not claimed again; `max` holds.
    expect(await queue.claim({ eventId: 'mine', max: 5, leaseMs: 60_000 })).toEqual([])
    expect(await queue.claim({ eventId: 'older', max: 1, leaseMs: 60_000 })).toHaveLength(1)

    // Ordinary claims go on as before: the other delivery of the older event is due; none of mine is.
    const ordinary = await queue.claim({ max: 10, leaseMs: 60_000 })
    expect(ordinary).toHaveLength(1)
    expect(ordinary[0]!.eventId).toBe('older')

    // A delivery given back is claimable again, by event and otherwise; one not due yet is not.
    const hook = one[0]!
    await queue.retry(hook, Date.now() + 60_000)
    expect(await queue.claim({ eventId: 'mine', destination: 'hook', max: 1, leaseMs: 60_000 })).toEqual([])
    const disk = rest.find((c) => c.destination === 'disk')!
    await queue.retry(disk, disk.nextAt)
    const again = await queue.claim({ eventId: 'mine', max: 5, leaseMs: 60_000 })
    expect(again.map((c) => c.destination)).toEqual(['disk'])
    await queue.ack(again[0]!)
    expect((await queue.stats()).pendingDeliveries).toBe(4)
  })

  it('an expired lease makes the delivery claimable by event again, not before', async () => {
    let clock = Date.now()
    opened = await QUEUES[name]!(() => clock)
    const { queue } = opened
    await queue.put(makeEvent({ id: 'leased' }), ['disk'])
    expect(await queue.claim({ eventId: 'leased', max: 1, leaseMs: 50 })).toHaveLength(1)
    clock += 49
    expect(await queue.claim({ eventId: 'leased', max: 1, leaseMs: 50 })).toHaveLength(0)
    clock += 1
    expect(await queue.claim({ eventId: 'leased', max: 1, leaseMs: 50 })).toHaveLength(1)
  })
})
