import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { appendFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { openLocalSpool, queueReplay, type LocalSpoolOptions } from '../../src/spool/local-spool.ts'
import type { PendingDelivery, SpoolStore } from '../../src/spool/types.ts'
import { OutboxFullError } from '../../src/outbox/types.ts'
import { parseJsonHook, parseThumbnail } from '../../src/events/parse.ts'
import { silentLogger } from '../../src/log.ts'
import { jpeg, PAYLOADS, signedThumbnail } from '../support/hooks.ts'
import { tempDir } from '../support/files.ts'
import { eventually } from '../support/wait.ts'

let dir: ReturnType<typeof tempDir>
let open: SpoolStore[] = []

beforeEach(() => {
  dir = tempDir('hookcast-spool-')
})
afterEach(async () => {
  await Promise.all(open.map((s) => s.close()))
  open = []
  dir.remove()
})

async function spool(overrides: Partial<LocalSpoolOptions> = {}): Promise<SpoolStore> {
  const store = await openLocalSpool({
    dir: dir.path, fsync: false, maxBytes: 64 * 1024 * 1024, segmentBytes: 1024 * 1024, cacheBytes: 1024 * 1024,
    log: silentLogger, ...overrides,
  })
  open.push(store)
  return store
}

async function reopen(store: SpoolStore, overrides: Partial<LocalSpoolOptions> = {}): Promise<SpoolStore> {
  await store.close()
  open = open.filter((s) => s !== store)
  return spool(overrides)
}

const ctx = { source: 'millicast', receivedAt: Date.now() }
const jsonEvent = (payload: object = PAYLOADS.feedsStarted) => parseJsonHook(new TextEncoder().encode(JSON.stringify(payload)), ctx)
const thumbEvent = async (seed: string, size = 10_000) => {
  const hook = await signedThumbnail({ body: jpeg(seed, size) })
  return parseThumbnail(hook.body, new Headers(hook.headers), ctx)
}
const segmentFiles = () => readdirSync(join(dir.path, 'segments')).sort()

describe('local spool', () => {
  it('keeps accepted events and their pending deliveries across a restart', async () => {
    let store = await spool()
    const json = await jsonEvent()
    const thumb = await thumbEvent('a', 300_000)
    const added = await store.append(json, ['disk', 'hook'])
    await store.append(thumb, ['disk'])
    expect(added.map((d) => d.destination)).toEqual(['disk', 'hook'])

    store = await reopen(store, { cacheBytes: 0 }) // nothing cached: bodies are read back from disk
    const recovered = store.recovered()
    expect(recovered.map((d) => `${d.eventId}:${d.destination}`).sort())
      .toEqual([`${json.id}:disk`, `${json.id}:hook`, `${thumb.id}:disk`].sort())
    const back = await store.load(thumb.id, 'disk')
    expect(back.body).toEqual(thumb.body)
    expect(back).toMatchObject({ type: 'thumbnail', streamId: thumb.streamId, feedId: thumb.feedId, timestamp: thumb.timestamp })
    expect((await store.load(json.id, 'disk')).data).toEqual(PAYLOADS.feedsStarted.data)
    expect(store.stats()).toMatchObject({ pendingEvents: 2, pendingDeliveries: 3 })
  })

  it('forgets delivered deliveries, keeps failed attempts, and deletes segments nothing needs', async () => {
    let store = await spool({ segmentBytes: 64 * 1024 })
    const events = []
    for (let i = 0; i < 20; i++) events.push(await thumbEvent(`e${i}`, 20_000))
    const deliveries = []
    for (const event of events) deliveries.push(...await store.append(event, ['disk']))
    expect(segmentFiles().length).toBeGreaterThan(3)
    const [keep, ...rest] = deliveries
    for (const delivery of rest) {
      await store.load(delivery.eventId, delivery.destination)
      await store.delivered(delivery)
    }
    keep!.attempts.push({ at: 123, error: 'boom' })
    keep!.nextAt = 456
    await store.load(keep!.eventId, keep!.destination)
    await store.failed(keep!)
    // The one straggler is copied forward so the old segments can go.
    await eventually(() => segmentFiles().length <= 2, 5_000)

    store = await reopen(store)
    expect(store.recovered()).toEqual([expect.objectContaining({ eventId: keep!.eventId, attempts: [{ at: 123, error: 'boom' }], nextAt: 456 })])
    expect((await store.load(keep!.eventId, keep!.destination)).body).toEqual(events[0]!.body)
    await store.delivered(store.recovered()[0]!)
    await eventually(() => segmentFiles().length === 1, 5_000)
    expect(store.stats()).toMatchObject({ pendingEvents: 0, pendingDeliveries: 0, oldestPendingAgeMs: 0 })
  })

  it('cuts a torn record off the end after a crash mid-write, and appends after it', async () => {
    let store = await spool()
    const first = await jsonEvent()
    await store.append(first, ['disk'])
    await store.close()
    open = []
    const segment = join(dir.path, 'segments', segmentFiles().at(-1)!)
    const intact = statSync(segment).size
    appendFileSync(segment, new Uint8Array([0, 0, 0x10, 0, 0x45, 0, 0, 0, 9])) // a record prefix, then nothing

    store = await spool()
    expect(store.recovered().map((d) => d.eventId)).toEqual([first.id])
    expect(statSync(segment).size).toBe(intact)
    const second = await jsonEvent(PAYLOADS.feedsEnded)
    await store.append(second, ['disk'])
    store = await reopen(store)
    expect(store.recovered().map((d) => d.eventId).sort()).toEqual([first.id, second.id].sort())
  })

  it('refuses an event that would pass maxBytes, keeping nothing of it', async () => {
    let store = await spool({ maxBytes: 100_000 })
    await store.append(await thumbEvent('fits', 60_000), ['disk'])
    const bytes = store.stats().bytes
    await expect(store.append(await thumbEvent('too-big', 60_000), ['disk'])).rejects.toBeInstanceOf(OutboxFullError)
    expect(store.stats()).toMatchObject({ bytes, pendingEvents: 1 })
    store = await reopen(store)
    expect(store.recovered()).toHaveLength(1)
  })

  it('keeps dead letters with their attempts and replays them with fresh attempts', async () => {
    let store = await spool()
    const event = await thumbEvent('dead')
    const [delivery] = await store.append(event, ['hook'])
    await store.load(event.id, 'hook')
    delivery!.attempts.push({ at: 1, error: 'hook answered 400' })
    await store.dead(delivery!)
    expect(store.stats()).toMatchObject({ pendingEvents: 0, deadLetters: 1 })

    store = await reopen(store)
    expect(store.recovered()).toEqual([])
    expect(await store.deadLetters()).toEqual([expect.objectContaining({
      eventId: event.id, destination: 'hook', type: 'thumbnail', streamId: event.streamId, attempts: [{ at: 1, error: 'hook answered 400' }],
    })])
    expect(await store.deadLetters({ destination: 'other' })).toEqual([])

    const progress: number[] = []
    const replayed = await store.replay({ destination: 'hook' }, (done) => progress.push(done))
    expect(replayed).toEqual([expect.objectContaining({ eventId: event.id, destination: 'hook', attempts: [] })])
    expect(progress).toEqual([1])
    expect(await store.deadLetters()).toEqual([])
    expect((await store.load(event.id, 'hook')).body).toEqual(event.body)

    store = await reopen(store) // the replay itself is durable
    expect(store.recovered().map((d) => d.destination)).toEqual(['hook'])
  })

  it('picks up replays queued by another process (the CLI) while running', async () => {
    const store = await spool()
    const event = await jsonEvent()
    const [delivery] = await store.append(event, ['hook'])
    await store.load(event.id, 'hook')
    await store.dead(delivery!)
    const picked: string[] = []
    store.onPending((deliveries) => picked.push(...deliveries.map((d) => d.eventId)))
    expect(await queueReplay(dir.path, { eventId: event.id })).toBe(1)
    await eventually(() => picked.length === 1, 5_000)
    expect(picked).toEqual([event.id])
    expect(await store.deadLetters()).toEqual([])
    expect(readdirSync(join(dir.path, 'inbox'))).toEqual([])
  })

  it('replays the same dead letter any number of times, from the API and from another process', async () => {
    let store = await spool()
    const event = await jsonEvent()
    const [first] = await store.append(event, ['hook'])
    await store.load(event.id, 'hook')
    await store.dead(first!)
    const picked: PendingDelivery[] = []
    store.onPending((deliveries) => picked.push(...deliveries))
    for (const how of ['cli', 'api', 'cli', 'api']) {
      // Replayed, then dead again (the receiver still refuses it).
      let again: PendingDelivery
      if (how === 'api') {
        [again] = (await store.replay()) as [PendingDelivery]
      } else {
        const before = picked.length
        expect(await queueReplay(dir.path)).toBe(1)
        await eventually(() => picked.length === before + 1, 5_000)
        again = picked.at(-1)!
      }
      expect(again).toMatchObject({ eventId: event.id, destination: 'hook', attempts: [] })
      expect(store.stats()).toMatchObject({ pendingDeliveries: 1, deadLetters: 0 })
      await store.load(event.id, 'hook')
      await store.dead(again)
      expect(store.stats()).toMatchObject({ pendingDeliveries: 0, deadLetters: 1 })
    }
    store = await reopen(store)
    expect(await store.deadLetters()).toEqual([expect.objectContaining({ eventId: event.id, destination: 'hook' })])
    const [last] = await store.replay()
    expect(last).toMatchObject({ eventId: event.id, destination: 'hook' })
    expect((await store.load(event.id, 'hook')).body).toEqual(event.body)
    await store.delivered(last!)
    expect(store.stats()).toMatchObject({ pendingDeliveries: 0, deadLetters: 0 })
    expect(readdirSync(join(dir.path, 'inbox'))).toEqual([])
  })

  it('counts dead letters against spool.maxBytes', async () => {
    const store = await spool({ maxBytes: 180_000 })
    const big = await thumbEvent('big', 50_000)
    const [delivery] = await store.append(big, ['hook'])
    await store.load(big.id, 'hook')
    await store.dead(delivery!)
    // The dead event's record (until its segment goes) + its dead letter + a second event: 150 KB, fits.
    await store.append(await thumbEvent('second', 50_000), ['hook'])
    await expect(store.append(await thumbEvent('third', 50_000), ['hook'])).rejects.toBeInstanceOf(OutboxFullError)
    expect(store.stats().bytes).toBeGreaterThan(100_000)
  })

  it('takes over the lock of a process that is gone', async () => {
    writeFileSync(join(dir.path, 'LOCK'), '999999999')
    const store = await spool()
    expect(store.stats().pendingEvents).toBe(0)
  })

  it('persists with fsync on, many appends at once sharing the writes', async () => {
    let store = await spool({ fsync: true })
    const events = await Promise.all(Array.from({ length: 50 }, (_, i) => thumbEvent(`fsync-${i}`, 5_000)))
    await Promise.all(events.map((event) => store.append(event, ['disk'])))
    store = await reopen(store, { fsync: true })
    expect(new Set(store.recovered().map((d) => d.eventId))).toEqual(new Set(events.map((e) => e.id)))
  })
})
