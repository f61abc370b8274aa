/**
 * The shutdown every runtime entry installs (src/start.ts `shutdownHandler`): on SIGTERM it stops the server and
 * closes the gateway with `server.shutdownGrace`; if closing hangs past the grace plus 5 s the process exits with
 * status 1 anyway, and not before; a close that finishes exits 0 and cancels that; a second signal exits at once.
 *
 * In-process, with the exit and the gateway's close given by the test and the timers faked: time is moved, not
 * waited for.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Gateway } from '../src/gateway.ts'
import { silentLogger } from '../src/log.ts'
import { shutdownHandler } from '../src/start.ts'

const GRACE_MS = 2_000
const FORCE_AFTER_MS = GRACE_MS + 5_000

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

/** A handler whose gateway's close resolves only when the test says so; records exits and close calls. */
function setUp() {
  const exits: number[] = []
  const closes: number[] = []
  let finishClose = () => {}
  const gateway = {
    close: (graceMs: number) => {
      closes.push(graceMs)
      return new Promise<void>((resolve) => {
        finishClose = resolve
      })
    },
  } as unknown as Gateway
  let stopped = 0
  const onSignal = shutdownHandler({
    stopServer: async () => {
      stopped++
    },
    gateway,
    log: silentLogger,
    exit: ((code: number) => {
      exits.push(code)
    }) as (code: number) => never,
    graceMs: GRACE_MS,
  })
  return { onSignal, exits, closes, stopped: () => stopped, finishClose: () => finishClose() }
}

describe('shutdown after SIGTERM', () => {
  it('exits with status 1 once a close that hangs has had the grace plus 5 s, not before', async () => {
    const { onSignal, exits, closes, stopped } = setUp()
    onSignal('SIGTERM')
    await vi.advanceTimersByTimeAsync(0)
    expect(stopped()).toBe(1)
    expect(closes).toEqual([GRACE_MS]) // the gateway is told its grace
    await vi.advanceTimersByTimeAsync(FORCE_AFTER_MS - 1)
    expect(exits).toEqual([])
    await vi.advanceTimersByTimeAsync(1)
    expect(exits).toEqual([1])
  })

  it('exits 0 when the close finishes, and the forced exit never comes', async () => {
    const { onSignal, exits, finishClose } = setUp()
    onSignal('SIGTERM')
    await vi.advanceTimersByTimeAsync(GRACE_MS)
    expect(exits).toEqual([])
    finishClose()
    await vi.advanceTimersByTimeAsync(0)
    expect(exits).toEqual([0])
    await vi.advanceTimersByTimeAsync(10 * FORCE_AFTER_MS)
    expect(exits).toEqual([0])
    expect(vi.getTimerCount()).toBe(0)
  })

  it('exits with status 1 at once on a second signal', async () => {
    const { onSignal, exits } = setUp()
    onSignal('SIGTERM')
    await vi.advanceTimersByTimeAsync(100)
    expect(exits).toEqual([])
    onSignal('SIGINT')
    expect(exits).toEqual([1])
  })
})
