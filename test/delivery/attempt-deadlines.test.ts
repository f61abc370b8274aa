/**
 * Deadline signals shared by delivery attempts that start close together: never cut an attempt before its timeout,
 * always end with the shutdown, and leave no timer or listener behind once their attempts are done.
 */
import { getEventListeners } from 'node:events'
import { describe, expect, it, vi } from 'vitest'
import { attemptDeadlines, SLOT_MS } from '../../src/delivery/attempt-deadlines.ts'

describe('attemptDeadlines', () => {
  it('attempts of one timeout started within a slot share a signal; another timeout or a later start gets its own', () => {
    let clock = 1_000
    const deadlines = attemptDeadlines(undefined, () => clock)
    const first = deadlines(10_000)
    clock += SLOT_MS - 1
    const second = deadlines(10_000)
    const otherTimeout = deadlines(5_000)
    clock += 1
    const later = deadlines(10_000)
    expect(second.signal).toBe(first.signal)
    expect(otherTimeout.signal).not.toBe(first.signal)
    expect(later.signal).not.toBe(first.signal)
    for (const attempt of [first, second, otherTimeout, later]) attempt.done()
  })

  it("aborts with a timeout no earlier than the timeout of the slot's last attempt, and within a slot of it", () => {
    // The slot's clock and its timer on one simulated time: no real sleep decides what joins the slot.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    try {
      const deadlines = attemptDeadlines(undefined, () => Date.now())
      const timeoutMs = 40
      const first = deadlines(timeoutMs)
      vi.advanceTimersByTime(SLOT_MS - 1)
      const joined = deadlines(timeoutMs) // started at the end of the slot: its full timeout still counts
      expect(joined.signal).toBe(first.signal)
      vi.advanceTimersByTime(timeoutMs - 1)
      expect(joined.signal.aborted).toBe(false)
      vi.advanceTimersByTime(1 + SLOT_MS)
      expect(joined.signal.aborted).toBe(true)
      expect((joined.signal.reason as Error).message).toBe(`timed out after ${timeoutMs} ms`)
      first.done()
      joined.done()
    } finally {
      vi.useRealTimers()
    }
  })

  it('ends every attempt under way when the parent aborts, with its reason, and a new one at once after that', () => {
    const parent = new AbortController()
    const deadlines = attemptDeadlines(parent.signal)
    const a = deadlines(10_000)
    const b = deadlines(20_000)
    const shutdown = new Error('shutting down')
    parent.abort(shutdown)
    expect(a.signal.reason).toBe(shutdown)
    expect(b.signal.reason).toBe(shutdown)
    const after = deadlines(10_000)
    expect(after.signal.aborted).toBe(true)
    expect(after.signal.reason).toBe(shutdown)
    for (const attempt of [a, b, after]) attempt.done()
  })

  it("leaves no listener on the parent once a slot's attempts are done and it is closed", () => {
    let clock = 0
    const parent = new AbortController()
    const deadlines = attemptDeadlines(parent.signal, () => clock)
    const attempts = Array.from({ length: 100 }, () => deadlines(10_000))
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(1) // one slot, one listener
    for (const attempt of attempts) attempt.done()
    clock += SLOT_MS
    const next = deadlines(10_000) // the next slot: the old one, unused, lets go
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(1)
    clock += SLOT_MS
    const last = deadlines(10_000)
    next.done() // done after being replaced: goes at once
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(1)
    last.done()
    next.done() // twice: no effect
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(1)
  })
})
