/** Tracker steps that decide something: when a thumbnail is written at once, how often a full stream is logged. */
import { describe, expect, it } from 'vitest'
import { createStreamTracker } from '../../src/streams/tracker.ts'
import { durableCandidate } from '../../src/streams/thumbnail-hooks.ts'
import { memoryStreamStore } from '../../src/streams/memory-stream-store.ts'
import { freshRecord } from '../../src/streams/stream-record.ts'
import { STREAM_LIMITS, type StreamRecord, type ThumbnailRef } from '../../src/streams/stream-types.ts'
import type { Logger } from '../../src/log.ts'
import { makeEvent } from '../support/events.ts'

const STREAM = 'ZG6NWV/lobby'
const ref = (timestamp: number): ThumbnailRef => ({ eventId: `t${timestamp}`, timestamp, event: makeEvent() })
const record = (status: StreamRecord['status'], latest?: number): StreamRecord => ({
  ...freshRecord(STREAM, 0),
  status,
  ...(latest !== undefined ? { latestThumbnail: ref(latest) } : {}),
})

describe('durableCandidate', () => {
  it('a stream not tracked yet, or whose session is over, keeps a thumbnail at once: it may become the first', () => {
    expect(durableCandidate(undefined, ref(5_000))).toBe(true)
    expect(durableCandidate(record('ended'), ref(5_000))).toBe(true)
    expect(durableCandidate(record('ended', 3_999), ref(5_000))).toBe(true)
    expect(durableCandidate(record('ended', 4_000), ref(5_000))).toBe(true)
  })

  it('not when the one kept is less than a second older (a flood costs no writes)', () => {
    expect(durableCandidate(record('ended', 4_001), ref(5_000))).toBe(false)
    expect(durableCandidate(record('ended', 5_000), ref(5_000))).toBe(false)
  })

  it('not while a session is live or ending: its first is settled by the record, the rest wait in memory', () => {
    expect(durableCandidate(record('live'), ref(5_000))).toBe(false)
    expect(durableCandidate(record('ending'), ref(5_000))).toBe(false)
  })
})

describe('a stream with no feed slot left', () => {
  it('is logged once a minute, and counted at every hook', async () => {
    let clock = 1_000_000
    const warnings: string[] = []
    const limits: string[] = []
    const log: Logger = { debug() {}, info() {}, error() {}, warn: (message) => void warnings.push(message) }
    const tracker = createStreamTracker({
      store: memoryStreamStore({ now: () => clock }),
      flapWindowMs: 100,
      emit: async () => {},
      scheduleCheck: async () => {},
      log,
      now: () => clock,
      onLimit: (what) => limits.push(what),
    })
    const started = (feedId: string) =>
      tracker.deliver(
        makeEvent({ id: feedId, type: 'feeds', event: 'started', feedId, timestamp: clock, receivedAt: clock }),
      )
    for (let i = 0; i < STREAM_LIMITS.feedsPerStream; i++) await started(`feed-${i}`)
    const full = () => warnings.filter((message) => message.startsWith('stream has too many active feeds'))
    expect(full()).toHaveLength(0)
    for (const id of ['more-1', 'more-2', 'more-3']) await started(id)
    expect(full()).toHaveLength(1)
    clock += 59_999
    await started('more-4')
    expect(full()).toHaveLength(1)
    clock += 1
    await started('more-5')
    expect(full()).toHaveLength(2)
    expect(limits.filter((what) => what === 'feeds_full')).toHaveLength(5)
    await tracker.close?.()
  })
})
