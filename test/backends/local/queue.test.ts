/**
 * What the local queue does beyond the queue contract: its segment files, torn records, its size limit (dead
 * letters included), the inbox the CLI drops replays into, its lock, and fsync.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { appendFileSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { openLocalQueue, type LocalQueueOptions } from '../../../src/backends/local/queue.ts'
import { queueLocalReplay } from '../../../src/backends/local/dead-letters.ts'
import { QueueFullError, type Claim, type Queue } from '../../../src/queue/types.ts'
import { parseJsonHook, parseThumbnail } from '../../../src/events/parse.ts'
import type { HookEvent } from '../../../src/events/types.ts'
import { silentLogger } from '../../../src/log.ts'
import { jpeg, PAYLOADS, signedThumbnail } from '../../support/hooks.ts'
import { tempDir } from '../../support/files.ts'
import { eventually } from '../../support/wait.ts'

let dir: ReturnType<typeof tempDir>
let open: Queue[] = []

beforeEach(() => {
  dir = tempDir('hookcast-spool-')
})
afterEach(async () => {
  await Promise.all(open.map((s) => s.close()))
  open = []
  dir.remove()
})

async function queueAt(overrides: Partial<LocalQueueOptions> = {}): Promise<Queue> {
  const queue = await openLocalQueue({
    dir: dir.path,
    fsync: false,
    maxBytes: 64 * 1024 * 1024,
    segmentBytes: 1024 * 1024,
    cacheBytes: 1024 * 1024,
    log: silentLogger,
    ...overrides,
  })
  open.push(queue)
  return queue
}

async function reopen(queue: Queue, overrides: Partial<LocalQueueOptions> = {}): Promise<Queue> {
  await queue.close()
  open = open.filter((s) => s !== queue)
  return queueAt(overrides)
}

/** Every due delivery, claimed briefly (the claims run out at once, so they can be claimed again). */
const due = (queue: Queue) => queue.claim({ max: 10_000, leaseMs: 1 })

const ctx = { source: 'millicast', receivedAt: Date.now() }
const jsonEvent = (payload: object = PAYLOADS.feedsStarted) =>
  parseJsonHook(new TextEncoder().encode(JSON.stringify(payload)), ctx)
const thumbEvent = async (seed: string, size = 10_000) => {
  const hook = await signedThumbnail({ body: jpeg(seed, size) })
  return parseThumbnail(hook.body, new Headers(hook.headers), ctx)
}
const segmentFiles = () => readdirSync(join(dir.path, 'segments')).sort()

describe('local queue', () => {
  it('hands out deliveries first come, first served (a heap of equal due times used to take them in no order)', async () => {
    const queue = await queueAt()
    const ids: string[] = []
    for (let i = 0; i < 200; i++) {
      const event = await jsonEvent({ ...PAYLOADS.feedsStarted, timestamp: 1_700_000_000_000 + i })
      await queue.put(event, ['disk'])
      ids.push(event.id)
    }
    const order: string[] = []
    for (;;) {
      const [claim] = await queue.claim({ max: 1, leaseMs: 60_000 })
      if (!claim) break
      order.push(claim.eventId)
      await queue.ack(claim)
    }
    expect(order).toEqual(ids)
  })

  it('reads bodies back from disk when they are not cached', async () => {
    let queue = await queueAt()
    const thumb = await thumbEvent('a', 300_000)
    await queue.put(thumb, ['disk'])
    queue = await reopen(queue, { cacheBytes: 0 })
    const [claim] = await due(queue)
    expect(Buffer.from((await queue.load(claim!)).body).equals(Buffer.from(thumb.body))).toBe(true)
  })

  it('forgets delivered deliveries, keeps failed attempts, and deletes segments nothing needs', async () => {
    let queue = await queueAt({ segmentBytes: 64 * 1024 })
    const events: HookEvent[] = []
    for (let i = 0; i < 20; i++) events.push(await thumbEvent(`e${i}`, 20_000))
    for (const event of events) await queue.put(event, ['disk'])
    expect(segmentFiles().length).toBeGreaterThan(3)
    const claims = await queue.claim({ max: 20, leaseMs: 60_000 })
    const keep = claims.find((c) => c.eventId === events[0]!.id)!
    for (const claim of claims) if (claim !== keep) await queue.ack(claim)
    await queue.retry(keep, 456, { at: 123, error: 'boom' })
    // The one straggler is copied forward so the old segments can go.
    await eventually(() => segmentFiles().length <= 2, 20_000)

    queue = await reopen(queue)
    const [back] = await due(queue)
    expect(back).toMatchObject({ eventId: keep.eventId, attempts: [{ at: 123, error: 'boom' }], nextAt: 456 })
    // `due` held it for 1 ms: claimed again once that lease ran out (waiting for it, not assuming it already had).
    const [claim] = await queue.claim({ max: 1, leaseMs: 60_000, waitMs: 2_000 })
    expect((await queue.load(claim!)).body).toEqual(events[0]!.body)
    await queue.ack(claim!)
    await eventually(() => segmentFiles().length === 1, 20_000)
    expect(await queue.stats()).toMatchObject({ pendingEvents: 0, pendingDeliveries: 0, oldestPendingAgeMs: 0 })
  })

  it('cuts a torn record off the end after a crash mid-write, and appends after it', async () => {
    let queue = await queueAt()
    const first = await jsonEvent()
    await queue.put(first, ['disk'])
    await queue.close()
    open = []
    const segment = join(dir.path, 'segments', segmentFiles().at(-1)!)
    const intact = statSync(segment).size
    appendFileSync(segment, new Uint8Array([0, 0, 0x10, 0, 0x45, 0, 0, 0, 9])) // a record prefix, then nothing

    queue = await queueAt()
    expect((await due(queue)).map((d) => d.eventId)).toEqual([first.id])
    expect(statSync(segment).size).toBe(intact)
    const second = await jsonEvent(PAYLOADS.feedsEnded)
    await queue.put(second, ['disk'])
    queue = await reopen(queue)
    expect((await due(queue)).map((d) => d.eventId).sort()).toEqual([first.id, second.id].sort())
  })

  it('refuses an event that would pass maxBytes, keeping nothing of it', async () => {
    let queue = await queueAt({ maxBytes: 100_000 })
    await queue.put(await thumbEvent('fits', 60_000), ['disk'])
    const { bytes } = await queue.stats()
    await expect(queue.put(await thumbEvent('too-big', 60_000), ['disk'])).rejects.toBeInstanceOf(QueueFullError)
    expect(await queue.stats()).toMatchObject({ bytes, pendingEvents: 1 })
    queue = await reopen(queue)
    expect(await due(queue)).toHaveLength(1)
  })

  it('counts dead letters against spool.maxBytes', async () => {
    const queue = await queueAt({ maxBytes: 180_000 })
    const big = await thumbEvent('big', 50_000)
    await queue.put(big, ['hook'])
    const [claim] = await queue.claim({ max: 1, leaseMs: 60_000 })
    await queue.dead(claim!, [])
    // The dead event's record (until its segment goes) + its dead letter + a second event: 150 KB, fits.
    await queue.put(await thumbEvent('second', 50_000), ['hook'])
    await expect(queue.put(await thumbEvent('third', 50_000), ['hook'])).rejects.toBeInstanceOf(QueueFullError)
    expect((await queue.stats()).bytes).toBeGreaterThan(100_000)
  })

  it('picks up replays another process (the CLI) drops into its inbox, any number of times', async () => {
    let queue = await queueAt()
    const event = await jsonEvent()
    await queue.put(event, ['hook'])
    for (const how of ['cli', 'api', 'cli', 'api']) {
      const [claim] = await queue.claim({ destination: 'hook', max: 1, leaseMs: 60_000 })
      await queue.dead(claim!, [{ at: 1, error: 'hook answered 400' }])
      expect(await queue.stats()).toMatchObject({ pendingDeliveries: 0, deadLetters: 1 })
      if (how === 'api') expect(await queue.replay()).toBe(1)
      else {
        expect(await queueLocalReplay(dir.path)).toBe(1)
        // Taken back into the log first, its inbox file removed after: wait for both.
        const inbox = join(dir.path, 'inbox')
        await eventually(async () => (await queue.stats()).pendingDeliveries === 1 && readdirSync(inbox).length === 0)
      }
      expect(await queue.stats()).toMatchObject({ pendingDeliveries: 1, deadLetters: 0 })
      expect(readdirSync(join(dir.path, 'inbox'))).toEqual([])
    }
    queue = await reopen(queue) // the replay itself is durable
    const [last] = await queue.claim({ max: 1, leaseMs: 60_000 })
    expect((await queue.load(last!)).body).toEqual(event.body)
  })

  it('a replay from the API while the maintenance drains the inbox takes each dead letter back once', async () => {
    const errors: string[] = []
    const log = { ...silentLogger, error: (message: string) => errors.push(message) }
    // The maintenance drains the inbox every millisecond: it lists the files the replay just moved there.
    const queue = await queueAt({ log, maintenanceMs: 1 })
    const LETTERS = 60
    for (let i = 0; i < LETTERS; i++)
      await queue.put(await jsonEvent({ ...PAYLOADS.feedsStarted, timestamp: i }), ['hook'])
    for (const claim of await queue.claim({ destination: 'hook', max: LETTERS, leaseMs: 60_000 }))
      await queue.dead(claim, [{ at: 1, error: 'hook answered 400' }])
    expect(await queue.stats()).toMatchObject({ pendingDeliveries: 0, deadLetters: LETTERS })
    expect(await queue.replay()).toBe(LETTERS)
    await eventually(() => readdirSync(join(dir.path, 'inbox')).length === 0)
    const claims = await queue.claim({ destination: 'hook', max: 10 * LETTERS, leaseMs: 60_000 })
    const ids = claims.map((claim) => claim.eventId)
    expect(ids.length, 'each dead letter replayed once').toBe(LETTERS)
    expect(new Set(ids).size).toBe(LETTERS)
    expect(errors).toEqual([])
  })

  it('removes an inbox file whose replay is in the log already, without replaying it again', async () => {
    let queue = await queueAt()
    await queue.put(await jsonEvent(), ['hook'])
    const [claim] = await queue.claim({ destination: 'hook', max: 1, leaseMs: 60_000 })
    await queue.dead(claim!, [{ at: 1, error: 'hook answered 400' }])
    await queue.close()
    open = []
    expect(await queueLocalReplay(dir.path)).toBe(1)
    const [name] = readdirSync(join(dir.path, 'inbox'))
    const file = readFileSync(join(dir.path, 'inbox', name!))
    queue = await queueAt() // takes the replay at start
    const [replayed] = await queue.claim({ destination: 'hook', max: 1, leaseMs: 60_000 })
    await queue.ack(replayed!)
    await queue.close()
    open = []
    // A crash after the replay was appended and before its file was removed leaves the file behind.
    writeFileSync(join(dir.path, 'inbox', name!), file)
    queue = await queueAt()
    expect(await queue.stats()).toMatchObject({ pendingDeliveries: 0, deadLetters: 0 })
    expect(readdirSync(join(dir.path, 'inbox'))).toEqual([])
  })

  it('takes over the lock of a process that is gone', async () => {
    writeFileSync(join(dir.path, 'LOCK'), '999999999')
    const queue = await queueAt()
    expect((await queue.stats()).pendingEvents).toBe(0)
  })

  it('persists with fsync on, many puts at once sharing the writes', async () => {
    let queue = await queueAt({ fsync: true })
    const events = await Promise.all(Array.from({ length: 50 }, (_, i) => thumbEvent(`fsync-${i}`, 5_000)))
    await Promise.all(events.map((event) => queue.put(event, ['disk'])))
    queue = await reopen(queue, { fsync: true })
    expect(new Set((await due(queue)).map((d: Claim) => d.eventId))).toEqual(new Set(events.map((e) => e.id)))
  })
})
