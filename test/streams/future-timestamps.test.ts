/**
 * Timestamps that steer the stream state are checked against the time the hook was received: the thumbnail headers
 * are not signed, so a replay with a far-future `X-Millicast-Timestamp` must not pin a stream's latest thumbnail,
 * and a feed time from the future must not become a session's start or end.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createStreamTracker } from '../../src/streams/tracker.ts'
import { openLocalStreamStore } from '../../src/backends/local/stream-store.ts'
import type { StreamStore } from '../../src/streams/stream-store.ts'
import type { HookEvent } from '../../src/events/types.ts'
import { parseJsonHook, parseThumbnail } from '../../src/events/parse.ts'
import { silentLogger } from '../../src/log.ts'
import { jpeg, signedThumbnail } from '../support/hooks.ts'
import { tempDir } from '../support/files.ts'
import { eventually } from '../support/wait.ts'
import { timedChecks, type TimedChecks } from './support.ts'

const STREAM = 'ZG6NWV/show'
/** 2096: far ahead, yet inside what the parser takes (it refuses times past 2100). */
const FAR_FUTURE = 4_000_000_000_000

describe('timestamps from the future', () => {
  let dir: ReturnType<typeof tempDir>
  let store: StreamStore
  let emitted: HookEvent[]
  let tracker: ReturnType<typeof createStreamTracker>
  let checks: TimedChecks

  const thumb = async (timestamp: number, receivedAt: number, seed: string) => {
    const hook = await signedThumbnail({ body: jpeg(seed), streamId: STREAM, timestamp })
    return parseThumbnail(hook.body, new Headers(hook.headers), { source: 'millicast', receivedAt })
  }
  const feed = (event: 'started' | 'ended', at: number, receivedAt: number, envelope = at) =>
    parseJsonHook(
      new TextEncoder().encode(
        JSON.stringify({
          type: 'feeds',
          event,
          timestamp: envelope,
          data: {
            feedId: 'f1',
            accountId: 'ZG6NWV',
            name: 'show',
            streamId: STREAM,
            active: event === 'started',
            [event]: at,
          },
        }),
      ),
      { source: 'millicast', receivedAt },
    )

  beforeEach(async () => {
    dir = tempDir('hookcast-future-')
    emitted = []
    store = await openLocalStreamStore({ dir: dir.path, log: silentLogger })
    checks = timedChecks(() => tracker)
    tracker = createStreamTracker({
      store,
      flapWindowMs: 100,
      emit: async (e) => {
        emitted.push(e)
      },
      scheduleCheck: checks.scheduleCheck,
      log: silentLogger,
    })
    await tracker.start()
  })
  afterEach(async () => {
    checks.stop()
    await tracker.close?.()
    await store.close()
    dir.remove()
  })

  it('a replayed thumbnail stamped far in the future does not stay the latest', async () => {
    const t0 = Date.now()
    await tracker.deliver(await thumb(t0 - 60_000, t0 - 60_000, 'real-1'))
    const forged = await thumb(FAR_FUTURE, t0 - 30_000, 'forged')
    await tracker.deliver(forged)
    const real = await thumb(t0, t0, 'real-2')
    await tracker.deliver(real)
    await tracker.close?.() // writes the pending latest thumbnail
    const latest = (await store.get(STREAM))!.record.latestThumbnail!
    expect(latest.eventId).toBe(real.id)
    expect(await store.thumbnail(STREAM, real.id)).toEqual(real.body)
    expect(latest.timestamp).toBeLessThanOrEqual(Date.now() + 5 * 60_000)
  })

  it('a thumbnail stamped in the future, alone, is kept with its time bounded by the time it was received', async () => {
    const t0 = Date.now()
    const forged = await thumb(FAR_FUTURE, t0, 'forged')
    await tracker.deliver(forged)
    await tracker.close?.()
    const latest = (await store.get(STREAM))!.record.latestThumbnail!
    expect(latest.eventId).toBe(forged.id)
    expect(latest.timestamp).toBeLessThanOrEqual(t0 + 5 * 60_000)
    expect(latest.event.timestamp).toBe(FAR_FUTURE) // what the sinks keyed it by is kept as it came
  })

  it('feed times from the future are bounded by the time of receipt', async () => {
    const t0 = Date.now()
    await tracker.deliver(await feed('started', FAR_FUTURE, t0))
    expect((await store.get(STREAM))!.record.liveSince).toBeLessThanOrEqual(t0 + 5 * 60_000)
    expect(emitted[0]!.timestamp).toBeLessThanOrEqual(t0 + 5 * 60_000)
    await tracker.deliver(await feed('ended', FAR_FUTURE, t0 + 1_000, t0 + 1_000))
    const ended = await eventually(() => emitted.find((e) => e.event === 'ended'), 20_000)
    expect(ended.timestamp).toBeLessThanOrEqual(t0 + 1_000 + 5 * 60_000)
    expect(ended.data!.durationMs).toBeLessThan(10 * 60_000)
    // A later, real session is not taken for a late hook of the forged one.
    await tracker.deliver(await feed('started', t0 + 2_000, t0 + 2_000))
    expect((await store.get(STREAM))?.record).toMatchObject({ status: 'live', liveSince: t0 + 2_000 })
  })
})
