/** The dedup window in NATS KV on a real nats-server: shared by instances on two connections, and bounded in time. */
import { describe, expect, it } from 'vitest'
import { natsDedupWindow } from '../../../src/backends/nats/dedup.ts'
import { natsForTests } from './nats-for-tests.ts'
import { eventually } from '../../support/wait.ts'

const server = natsForTests()

describe('nats dedup window', () => {
  it('of two instances remembering the same ids at once, exactly one is told each id is new; after the window it is new again', async () => {
    const windowMs = 1_000
    const [a, b] = await Promise.all([server.connect(), server.connect()]).then((ncs) =>
      ncs.map((nc) => natsDedupWindow({ nc, windowMs, bucket: 'dedup-race' })),
    )
    const ids = Array.from({ length: 50 }, (_, i) => `delivery ${i} / with any characters: ${'x'.repeat(i * 10)}`)
    const answers = await Promise.all(ids.map((id) => Promise.all([a!.remember(id), b!.remember(id)])))
    for (const [fromA, fromB] of answers) expect(fromA !== fromB).toBe(true)
    expect(await a!.remember(ids[0]!)).toBe(false)
    expect(await b!.remember(ids[0]!)).toBe(false)
    // The server forgets the ids once the window has passed (it expires them about when it does).
    await eventually(async () => (await b!.remember(ids[1]!)) === true, 20_000, 100)
    expect(await a!.remember(ids[1]!)).toBe(false)
  })

  it('forgets an id at once when the put it guarded failed, for every instance', async () => {
    const [a, b] = await Promise.all([server.connect(), server.connect()]).then((ncs) =>
      ncs.map((nc) => natsDedupWindow({ nc, windowMs: 60_000, bucket: 'dedup-forget' })),
    )
    expect(await a!.remember('evt-1')).toBe(true)
    expect(await b!.remember('evt-1')).toBe(false)
    await a!.forget('evt-1')
    expect(await b!.remember('evt-1')).toBe(true)
    expect(await a!.remember('evt-1')).toBe(false)
  })

  it('with no window, every delivery is new and nothing is stored', async () => {
    const nc = await server.connect()
    const none = natsDedupWindow({ nc, windowMs: 0, bucket: 'dedup-none' })
    expect(await none.remember('x')).toBe(true)
    expect(await none.remember('x')).toBe(true)
    await none.forget('x')
  })
})
