/** The dedup window in NATS KV on a real nats-server: shared by instances on two connections, and bounded in time. */
import { describe, expect, it } from 'vitest'
import { natsDedupWindow } from '../../../src/backends/nats/dedup.ts'
import { natsForTests } from './nats-for-tests.ts'
import { eventually } from '../../support/wait.ts'

const server = natsForTests()

describe('nats dedup window', () => {
  it('of two instances remembering the same ids at once, exactly one is told each id is new', async () => {
    // A window far longer than the test: an id written by one instance cannot expire before the other's try, even
    // when a loaded machine opens one instance's bucket a second after the other's.
    const [a, b] = await Promise.all([server.connect(), server.connect()]).then((ncs) =>
      ncs.map((nc) => natsDedupWindow({ nc, windowMs: 600_000, bucket: 'dedup-race' })),
    )
    const ids = Array.from({ length: 50 }, (_, i) => `delivery ${i} / with any characters: ${'x'.repeat(i * 10)}`)
    const answers = await Promise.all(ids.map((id) => Promise.all([a!.remember(id), b!.remember(id)])))
    for (const [fromA, fromB] of answers) expect(fromA !== fromB).toBe(true)
    expect(await a!.remember(ids[0]!)).toBe(false)
    expect(await b!.remember(ids[0]!)).toBe(false)
  })

  it('forgets an id once the window has passed, and remembers it again for a window', async () => {
    const windowMs = 1_000
    const [a, b] = await Promise.all([server.connect(), server.connect()]).then((ncs) =>
      ncs.map((nc) => natsDedupWindow({ nc, windowMs, bucket: 'dedup-expiry' })),
    )
    expect(await a!.remember('evt-1')).toBe(true)
    // Until one try ran within a window of b's write: a machine stalled for a whole window proves nothing.
    for (let tries = 0; ; tries++) {
      let rememberedAt = 0
      // The server forgets the id about when the window has passed.
      await eventually(
        async () => {
          rememberedAt = performance.now()
          return (await b!.remember('evt-1')) === true
        },
        20_000,
        100,
      )
      const again = await a!.remember('evt-1')
      // b stored the id after rememberedAt, so the server cannot have forgotten it within a window from then.
      if (performance.now() - rememberedAt >= windowMs && tries < 5) continue
      expect(again).toBe(false)
      break
    }
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
