/**
 * A feed's `ended` written while the check that hands `live` on is still handing it on: the check worked out the
 * stream's next check before the `ended` (there was none: no silence rule), and the `ended` saw that check's time
 * still ahead in its record (a claimed `live` shows its wait until it is marked handed on), so it counted on that
 * check to look again. Nothing was left to end the session: it stayed `ending` with no `ended` event, for good.
 * The chaos test found it, twice, with instances of a cluster doing the two at once; one process does it too, as
 * here, since the tracker's lane delivers many hooks at once.
 */
import { describe, expect, it } from 'vitest'
import type { HookEvent } from '../../src/events/types.ts'
import { parseJsonHook } from '../../src/events/parse.ts'
import { silentLogger } from '../../src/log.ts'
import { memoryStreamStore } from '../../src/streams/memory-stream-store.ts'
import { createStreamTracker } from '../../src/streams/tracker.ts'
import { T0 } from './clocked-tracker.ts'

const STREAM = 'ZG6NWV/race'
const FLAP_MS = 500
const WAIT_MS = 5_000

async function feedHook(event: 'started' | 'ended', at: number): Promise<HookEvent> {
  const data = { feedId: 'f1', accountId: 'ZG6NWV', name: 'race', streamId: STREAM, active: event === 'started' }
  const payload = { type: 'feeds', event, timestamp: at + 5, data: { ...data, [event]: at } }
  return parseJsonHook(new TextEncoder().encode(JSON.stringify(payload)), { source: 'millicast', receivedAt: at })
}

describe('a feed ended while the live check hands live on', () => {
  it('still ends the session: some check comes after the flap window', async () => {
    const clock = { now: T0 }
    const store = memoryStreamStore({ now: () => clock.now })
    const checks: Array<{ check: HookEvent; at: number }> = []
    const emitted: HookEvent[] = []
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    let liveEmitting!: () => void
    const emitting = new Promise<void>((resolve) => (liveEmitting = resolve))
    const tracker = createStreamTracker({
      store,
      flapWindowMs: FLAP_MS,
      thumbnailWaitMs: WAIT_MS,
      now: () => clock.now,
      async emit(event) {
        emitted.push(event)
        if (event.event !== 'live') return
        liveEmitting()
        await gate // the pipeline takes its time with the live event
      },
      async scheduleCheck(check, at) {
        if (!checks.some((waiting) => waiting.check.id === check.id)) checks.push({ check, at })
      },
      log: silentLogger,
      onHealth: () => {},
      onAnalysis: () => {},
    })

    await tracker.deliver(await feedHook('started', T0))
    expect(checks.map((c) => c.at)).toEqual([T0 + WAIT_MS]) // the live event's wait for a thumbnail
    const liveCheck = checks.shift()!

    clock.now = T0 + WAIT_MS + 10
    const handingOn = tracker.deliver(liveCheck.check)
    await emitting
    clock.now += 10
    await tracker.deliver(await feedHook('ended', clock.now))
    release()
    await handingOn
    expect((await store.get(STREAM))?.record.status).toBe('ending')

    // The queue delivers what was scheduled, each at its time, past the flap window.
    clock.now += FLAP_MS + 1_000
    for (const { check, at } of checks.sort((a, b) => a.at - b.at)) {
      expect(at).toBeLessThanOrEqual(clock.now)
      await tracker.deliver(check)
    }
    expect(emitted.map((e) => e.event)).toEqual(['live', 'ended'])
    expect((await store.get(STREAM))?.record.status).toBe('ended')
  })
})
