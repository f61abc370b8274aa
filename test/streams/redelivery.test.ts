/**
 * A hook's delivery to the tracker that fails after its write (the queue unreachable while it puts the check the
 * write made necessary or hands on the transition it claimed), or whose process dies there, is delivered again. The
 * record already shows the change, so the redelivery brings nothing forward and may change nothing: it must still
 * put the check and hand on what its first attempt claimed, or the stream waits for a restart (no `live`, no `ended`).
 */
import { describe, expect, it } from 'vitest'
import { memoryStreamStore } from '../../src/streams/memory-stream-store.ts'
import { jpeg } from '../support/hooks.ts'
import { clockedTracker, T0 } from './clocked-tracker.ts'

const STREAM = 'ZG6NWV/redelivered'
const WAIT_MS = 45_000

const setup = () => {
  const store = memoryStreamStore()
  const clock = { now: T0 }
  const faults = { emit: 0, check: 0 }
  const checks: Parameters<typeof clockedTracker>[0]['checks'] = []
  const t = clockedTracker({ store, clock, streamId: STREAM, health: false, thumbnailWaitMs: WAIT_MS, checks, faults })
  const record = async () => (await store.get(STREAM))!.record
  return { clock, faults, checks, t, record }
}

describe('a delivery to the tracker tried again after its write', () => {
  it("a `started` whose check could not be put puts it when redelivered: `live` comes at the wait's end", async () => {
    const { faults, checks, t } = setup()
    faults.check = 1
    const started = await t.feed('started', 'f1').catch((error: unknown) => error)
    expect(String(started)).toContain('unreachable')
    expect(checks).toEqual([])
    await t.redeliver()
    expect(checks.map((c) => c.at)).toEqual([T0 + WAIT_MS])
    await t.advance(WAIT_MS + 1_000)
    expect(t.stream()).toEqual(['live'])
  })

  it('an `ended` whose flap-window check could not be put puts it when redelivered: `ended` comes', async () => {
    const { faults, t, record } = setup()
    await t.feed('started', 'f1')
    await t.thumbnail(jpeg('one'))
    expect(t.stream()).toEqual(['live'])
    await t.advance(WAIT_MS + 5_000) // the check the `started` put has run; the next is the silence's, minutes away
    faults.check = 1
    const ended = await t.feed('ended', 'f1').catch((error: unknown) => error)
    expect(String(ended)).toContain('unreachable')
    expect((await record()).status).toBe('ending')
    await t.advance(120_000)
    expect(t.stream(), 'no check was put: nothing ends the session before the silence check').toEqual(['live'])
    await t.redeliver()
    await t.advance(120_000)
    expect(t.stream()).toEqual(['live', 'ended'])
    expect((await record()).status).toBe('ended')
  })

  it('a first thumbnail whose `live` could not be handed on hands it on when redelivered, not at the claim expiry', async () => {
    const { faults, t, clock } = setup()
    await t.feed('started', 'f1')
    faults.emit = 1
    clock.now += 2_000
    const first = await t.thumbnail(jpeg('first')).catch((error: unknown) => error)
    expect(String(first)).toContain('unreachable')
    expect(t.stream()).toEqual([])
    await t.redeliver()
    expect(t.stream()).toEqual(['live'])
    expect(t.emitted[0]!.data?.thumbnail).toBeDefined()
  })

  it('so does one redelivered after a later thumbnail was taken (it is no longer the newest)', async () => {
    const { faults, t, clock } = setup()
    await t.feed('started', 'f1')
    faults.emit = 1
    clock.now += 2_000
    await t.thumbnail(jpeg('first')).catch(() => undefined)
    const first = t.last()
    // The second thumbnail cannot claim `live`: the first one's delivery holds it (for CLAIM_MS).
    clock.now += 30_000
    await t.thumbnail(jpeg('second'))
    expect(t.stream()).toEqual([])
    await t.redeliver(first)
    expect(t.stream()).toEqual(['live'])
    expect(t.emitted[0]!.data?.thumbnail).toBeDefined()
  })
})
