/**
 * The contract every queue passes: what `put` keeps, how claims are leased, retried, dead-lettered and replayed,
 * dedup, and that concurrent claimers never share a delivery. Each implementation's test file is a few lines.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { HookEvent } from '../../src/events/types.ts'
import { parseJsonHook, parseThumbnail } from '../../src/events/parse.ts'
import { LeaseLostError, type Claim, type Queue } from '../../src/queue/types.ts'
import { jpeg, PAYLOADS, signedThumbnail } from '../support/hooks.ts'
import { eventually, sleep } from '../support/wait.ts'

export interface QueueContract {
  name: string
  /** A new, empty queue with a dedup window of `dedupWindowMs` (0: none). */
  open(options: { dedupWindowMs: number }): Promise<Queue>
  /** The same queue as it is after a restart; absent when nothing survives one. */
  reopen?(queue: Queue): Promise<Queue>
}

let counter = 0
async function thumbnail(size = 5_000): Promise<HookEvent> {
  const hook = await signedThumbnail({ body: jpeg(`queue-${counter++}-${Math.random()}`, size) })
  return parseThumbnail(hook.body, new Headers(hook.headers), { source: 'millicast', receivedAt: Date.now() })
}
const json = (payload: object = PAYLOADS.feedsStarted) =>
  parseJsonHook(new TextEncoder().encode(JSON.stringify(payload)), { source: 'millicast', receivedAt: Date.now() })

export function queueContract(target: QueueContract): void {
  describe(`${target.name} queue contract`, () => {
    let open: Queue[] = []
    const make = async (dedupWindowMs = 0) => {
      const queue = await target.open({ dedupWindowMs })
      open.push(queue)
      return queue
    }
    afterEach(async () => {
      await Promise.all(open.map((q) => q.close().catch(() => {})))
      open = []
    })

    it('hands out one delivery per destination, with the event as it was put', async () => {
      const queue = await make()
      const event = await thumbnail(300_000)
      const feeds = await json()
      expect(await queue.put(event, ['disk', 'hook'])).toEqual({ duplicate: false })
      await queue.put(feeds, ['disk'])
      const claims = await queue.claim({ max: 10, leaseMs: 60_000 })
      expect(claims.map((c) => `${c.eventId}>${c.destination}`).sort()).toEqual(
        [`${event.id}>disk`, `${event.id}>hook`, `${feeds.id}>disk`].sort(),
      )
      const back = await queue.load(claims.find((c) => c.eventId === event.id)!)
      expect(Buffer.from(back.body).equals(Buffer.from(event.body))).toBe(true)
      expect(back).toMatchObject({
        id: event.id,
        type: 'thumbnail',
        streamId: event.streamId,
        feedId: event.feedId,
        timestamp: event.timestamp,
      })
      expect((await queue.load(claims.find((c) => c.eventId === feeds.id)!)).data).toEqual(PAYLOADS.feedsStarted.data)
      expect(await queue.claim({ destination: 'disk', max: 10, leaseMs: 60_000 })).toEqual([]) // all claimed
      for (const claim of claims) await queue.ack(claim)
      expect(await queue.stats()).toMatchObject({ pendingEvents: 0, pendingDeliveries: 0, deadLetters: 0 })
    })

    it('claims by destination, at most max, and reports pending deliveries per destination', async () => {
      const queue = await make()
      for (let i = 0; i < 5; i++) await queue.put(await thumbnail(), ['a', 'b'])
      expect(await queue.stats()).toMatchObject({
        pendingEvents: 5,
        pendingDeliveries: 10,
        destinations: { a: 5, b: 5 },
      })
      const some = await queue.claim({ destination: 'a', max: 3, leaseMs: 60_000 })
      expect(some).toHaveLength(3)
      expect(some.every((c) => c.destination === 'a')).toBe(true)
      expect(await queue.claim({ destination: 'a', max: 10, leaseMs: 60_000 })).toHaveLength(2)
    })

    const reopen = target.reopen
    if (reopen) {
      it('keeps what was put, retried and dead across a restart; claims do not survive it', async () => {
        let queue = await make()
        const [a, b, c] = [await thumbnail(200_000), await json(), await thumbnail()]
        await queue.put(a, ['disk', 'hook'])
        await queue.put(b, ['hook'])
        await queue.put(c, ['hook'])
        const claims = await queue.claim({ destination: 'hook', max: 10, leaseMs: 60_000 })
        const byEvent = (id: string) => claims.find((claim) => claim.eventId === id)!
        await queue.retry(byEvent(a.id), Date.now() + 60_000, { at: 1, error: 'receiver answered 503' })
        await queue.dead(byEvent(b.id), [{ at: 2, error: 'receiver answered 400' }])
        // c stays claimed: a crash now leaves it pending
        queue = await reopen(queue)
        open.push(queue)
        const due = await queue.claim({ max: 10, leaseMs: 60_000 })
        expect(due.map((d) => `${d.eventId}>${d.destination}`).sort()).toEqual([`${a.id}>disk`, `${c.id}>hook`].sort())
        expect(await queue.stats()).toMatchObject({ pendingDeliveries: 3, deadLetters: 1 })
        expect(await queue.deadLetters()).toEqual([
          expect.objectContaining({
            eventId: b.id,
            destination: 'hook',
            attempts: [{ at: 2, error: 'receiver answered 400' }],
          }),
        ])
        const stats = await queue.stats()
        expect(stats.destinations).toEqual({ disk: 1, hook: 2 })
        expect(
          Buffer.from((await queue.load(due.find((d) => d.eventId === a.id)!)).body).equals(Buffer.from(a.body)),
        ).toBe(true)
      })
    }

    it('lets a lease expire, not before its end: the delivery is claimed again, the old claim refused', async () => {
      const queue = await make()
      await queue.put(await thumbnail(), ['disk'])
      const leaseMs = 1_000
      const claimedFrom = Date.now()
      const [first] = await queue.claim({ max: 1, leaseMs })
      // Claimed again by polling from now on: however late a poll runs on a busy machine, none before the lease ends.
      const second = await eventually(async () => (await queue.claim({ max: 1, leaseMs: 60_000 }))[0], 15_000, 50)
      expect(Date.now()).toBeGreaterThanOrEqual(claimedFrom + leaseMs)
      expect(second).toMatchObject({ eventId: first!.eventId, destination: 'disk' })
      expect(second!.token).not.toBe(first!.token)
      await expect(queue.ack(first!)).rejects.toBeInstanceOf(LeaseLostError)
      await queue.ack(second!)
      expect((await queue.stats()).pendingDeliveries).toBe(0)
    })

    it('extends a lease for a slow delivery', async () => {
      const queue = await make()
      await queue.put(await thumbnail(), ['disk'])
      // The first lease leaves a busy machine seconds for the extend's round trip; the check runs past its end.
      const leaseMs = 3_000
      const [claim] = await queue.claim({ max: 1, leaseMs })
      const claimedBy = Date.now()
      await queue.extend(claim!, 60_000)
      await sleep(claimedBy + leaseMs + 200 - Date.now())
      expect(await queue.claim({ max: 1, leaseMs: 1_000 })).toEqual([])
      await queue.ack(claim!)
    })

    it('holds a retried delivery until its time, with the attempt recorded; a deferral records none', async () => {
      const queue = await make()
      await queue.put(await thumbnail(), ['hook'])
      const [claim] = await queue.claim({ max: 1, leaseMs: 60_000 })
      const due = Date.now() + 1_000
      await queue.retry(claim!, due, { at: 5, error: 'timed out' })
      // A claim waiting from now gets it, and not before its time (load only makes it later).
      const [again] = await queue.claim({ max: 1, leaseMs: 60_000, waitMs: 15_000 })
      expect(Date.now()).toBeGreaterThanOrEqual(due)
      expect(again!.attempts).toEqual([{ at: 5, error: 'timed out' }])
      await queue.retry(again!, Date.now() + 50)
      const [third] = await queue.claim({ max: 1, leaseMs: 60_000, waitMs: 15_000 })
      expect(third!.attempts).toEqual([{ at: 5, error: 'timed out' }])
    })

    it('holds delayed work until notBefore', async () => {
      const queue = await make()
      const event = await json()
      const notBefore = Date.now() + 1_000
      await queue.put(event, ['@streams'], { notBefore })
      // A claim waiting from now gets it, and not before notBefore (load only makes it later).
      const [claim] = await queue.claim({ max: 1, leaseMs: 60_000, waitMs: 15_000 })
      expect(Date.now()).toBeGreaterThanOrEqual(notBefore)
      expect(claim).toMatchObject({ eventId: event.id, destination: '@streams' })
    })

    it('wakes a waiting claim as soon as something is put', async () => {
      const queue = await make()
      const waiting = queue.claim({ destination: 'disk', max: 5, leaseMs: 60_000, waitMs: 15_000 })
      await sleep(20)
      const event = await thumbnail()
      await queue.put(event, ['disk'])
      expect((await waiting).map((c) => c.eventId)).toEqual([event.id])
    })

    it('ends a waiting claim when its signal aborts', async () => {
      const queue = await make()
      const controller = new AbortController()
      const waiting = queue.claim({ max: 5, leaseMs: 60_000, waitMs: 10_000, signal: controller.signal })
      controller.abort()
      expect(await waiting).toEqual([])
    })

    it('drops an identical event within the dedup window, and waits for an identical put under way', async () => {
      const queue = await make(60_000)
      const event = await thumbnail()
      const results = await Promise.all([
        queue.put(event, ['disk']),
        queue.put(event, ['disk']),
        queue.put(event, ['disk']),
      ])
      expect(results.filter((r) => !r.duplicate)).toHaveLength(1)
      expect(await queue.put(event, ['disk'])).toEqual({ duplicate: true })
      expect(await queue.claim({ max: 10, leaseMs: 60_000 })).toHaveLength(1)
    })

    it('replays a dead letter any number of times', async () => {
      const queue = await make(60_000)
      const event = await json()
      await queue.put(event, ['hook', 'disk'])
      for (let round = 0; round < 3; round++) {
        const [claim] = await queue.claim({ destination: 'hook', max: 1, leaseMs: 60_000 })
        expect(claim).toMatchObject({ eventId: event.id, attempts: [] })
        await queue.dead(claim!, [{ at: round, error: 'answered 400' }])
        expect(await queue.deadLetters({ destination: 'hook' })).toEqual([
          expect.objectContaining({ eventId: event.id, attempts: [{ at: round, error: 'answered 400' }] }),
        ])
        expect(await queue.replay({ eventId: event.id })).toBe(1)
        expect(await queue.deadLetters()).toEqual([])
      }
      const [last] = await queue.claim({ destination: 'hook', max: 1, leaseMs: 60_000 })
      expect(Buffer.from((await queue.load(last!)).body).equals(Buffer.from(event.body))).toBe(true)
      await queue.ack(last!)
      expect((await queue.stats()).destinations).toEqual({ disk: 1 })
    })

    it('never gives one delivery to two concurrent claimers', async () => {
      const queue = await make()
      for (let i = 0; i < 40; i++) await queue.put(await thumbnail(1_000), ['disk'])
      // Rounds of 8 claimers at once until all is claimed: a claimer that lost every race may come back empty.
      const claimed: Claim[] = []
      for (const deadline = Date.now() + 20_000; claimed.length < 40 && Date.now() < deadline; ) {
        const claimer = () => queue.claim({ max: 7, leaseMs: 600_000, waitMs: 100 })
        const batches = await Promise.all(Array.from({ length: 8 }, claimer))
        claimed.push(...batches.flat())
      }
      expect(claimed).toHaveLength(40)
      expect(new Set(claimed.map((c) => c.eventId)).size).toBe(40)
    })
  })
}
