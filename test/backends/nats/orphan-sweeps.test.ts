/**
 * When the NATS queue sweeps orphaned event copies (`orphanSweeps` in backends/nats/orphan-sweep.ts): one sweep at
 * a time per instance, by its timer only while it may, and when asked; the sweep itself is a stand-in, the timer a
 * fake.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createLogger } from '../../../src/log.ts'
import { orphanSweeps, type SweepResult } from '../../../src/backends/nats/orphan-sweep.ts'

const EVERY_MS = 60_000

/** A sweep that ends when the test says so, recording the age it was asked for. */
function heldSweep() {
  const calls: number[] = []
  const ends: Array<(result: SweepResult) => void> = []
  const fails: Array<(error: Error) => void> = []
  const sweep = (olderThanMs: number) => {
    calls.push(olderThanMs)
    return new Promise<SweepResult>((resolve, reject) => {
      ends.push(resolve)
      fails.push(reject)
    })
  }
  return { sweep, calls, end: (result: SweepResult) => ends.at(-1)!(result), fail: (e: Error) => fails.at(-1)!(e) }
}

let lines: string[]
const log = () => createLogger('debug', (line) => lines.push(line))

beforeEach(() => {
  lines = []
  vi.useFakeTimers()
})
afterEach(() => vi.useRealTimers())

describe('NATS orphan sweeps', () => {
  it('gives a call made while a sweep runs that sweep and its result; the next call sweeps again', async () => {
    const held = heldSweep()
    const sweeps = orphanSweeps(held.sweep, { everyMs: 0, olderThanMs: 700_000, canRun: () => true, log: log() })
    const first = sweeps.sweep()
    const second = sweeps.sweep(0)
    expect(second).toBe(first)
    expect(held.calls).toEqual([700_000])
    held.end({ checked: 3, removed: 1 })
    expect(await second).toEqual({ checked: 3, removed: 1 })
    const third = sweeps.sweep(0)
    expect(held.calls).toEqual([700_000, 0])
    held.end({ checked: 0, removed: 0 })
    await third
  })

  it('sweeps by its timer only while it may and no sweep runs, logs a failed one, and stops', async () => {
    const held = heldSweep()
    let may = false
    const sweeps = orphanSweeps(held.sweep, { everyMs: EVERY_MS, olderThanMs: 5, canRun: () => may, log: log() })
    await vi.advanceTimersByTimeAsync(EVERY_MS)
    expect(held.calls).toEqual([]) // NATS away, or the queue closed
    may = true
    await vi.advanceTimersByTimeAsync(EVERY_MS)
    expect(held.calls).toEqual([5])
    await vi.advanceTimersByTimeAsync(EVERY_MS)
    expect(held.calls).toEqual([5]) // the first one still runs
    held.fail(new Error('NATS went away'))
    await vi.advanceTimersByTimeAsync(0)
    expect(lines.map((line) => JSON.parse(line))).toMatchObject([
      { level: 'warn', msg: 'cannot sweep NATS events', error: 'NATS went away' },
    ])
    await vi.advanceTimersByTimeAsync(EVERY_MS)
    expect(held.calls).toEqual([5, 5])
    let stopped = false
    const stopping = sweeps.stop().then(() => (stopped = true))
    await vi.advanceTimersByTimeAsync(0)
    expect(stopped).toBe(false) // waits for the sweep under way
    held.end({ checked: 0, removed: 0 })
    await stopping
    await vi.advanceTimersByTimeAsync(10 * EVERY_MS)
    expect(held.calls).toEqual([5, 5])
  })
})
