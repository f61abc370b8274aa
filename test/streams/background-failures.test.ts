/**
 * Background steps of the stream state (ending a session after the flap window, writing the latest thumbnail,
 * lazy writes) fail without taking the process down: they log, count and retry.
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createStreamTracker } from '../../src/streams/tracker.ts'
import { openLocalStreamStore } from '../../src/backends/local/stream-store.ts'
import { memoryStreamStore } from '../../src/streams/memory-stream-store.ts'
import { updateWithRetry, type StreamStore } from '../../src/streams/stream-store.ts'
import type { HookEvent } from '../../src/events/types.ts'
import { parseJsonHook } from '../../src/events/parse.ts'
import { silentLogger } from '../../src/log.ts'
import { tempDir } from '../support/files.ts'
import { eventually } from '../support/wait.ts'
import { timedChecks } from './support.ts'

const STREAM = 'ZG6NWV/show'

/** A stream store in memory whose writes (`put`) can be told to fail their next N calls. */
function flakyStore(): StreamStore & { failNext(count: number): void; failures: number } {
  const inner = memoryStreamStore()
  let failing = 0
  const store = {
    ...inner,
    failures: 0,
    failNext(count: number) {
      failing = count
    },
    async put(...args: Parameters<StreamStore['put']>) {
      if (failing > 0) {
        failing--
        store.failures++
        throw new Error('disk full')
      }
      return inner.put(...args)
    },
  }
  return store
}
const recordOf = async (store: StreamStore) => (await store.get(STREAM))?.record

const feed = (event: 'started' | 'ended', feedId: string, at: number) =>
  parseJsonHook(
    new TextEncoder().encode(
      JSON.stringify({
        type: 'feeds',
        event,
        timestamp: at + 5,
        data: { feedId, accountId: 'ZG6NWV', name: 'show', streamId: STREAM, active: event === 'started', [event]: at },
      }),
    ),
    { source: 'millicast', receivedAt: at + 10 },
  )

/** Lets pending promise callbacks and process-level rejection reports run (real macrotask turns). */
const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve))
}

describe('stream tracker background failures', () => {
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown) => {
    unhandled.push(reason)
  }
  beforeEach(() => {
    unhandled.length = 0
    process.on('unhandledRejection', onUnhandled)
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
  })
  afterEach(() => {
    vi.useRealTimers()
    process.off('unhandledRejection', onUnhandled)
  })

  it('a session end whose store update fails twice is retried, counted, and ends once the store recovers', async () => {
    const store = flakyStore()
    const emitted: HookEvent[] = []
    const failures: string[] = []
    const checks = timedChecks(() => tracker)
    const tracker = createStreamTracker({
      store,
      flapWindowMs: 1_000,
      log: silentLogger,
      scheduleCheck: checks.scheduleCheck,
      emit: async (e) => {
        emitted.push(e)
      },
      onBackgroundFailure: (what: string) => {
        failures.push(what)
      },
    } as Parameters<typeof createStreamTracker>[0])
    await tracker.start()
    const t0 = Date.now()
    await tracker.deliver(await feed('started', 'a', t0))
    await tracker.deliver(await feed('ended', 'a', t0 + 100))
    expect((await recordOf(store))!.status).toBe('ending')

    store.failNext(2)
    // Well past the flap window plus any reasonable retry schedule (fake time: this takes no real time).
    for (let i = 0; i < 120; i++) {
      await vi.advanceTimersByTimeAsync(1_000)
      await settle()
    }
    // Everything on the way (checks, their ids, the store) runs on the fake clock: done by now, however busy the machine.
    expect(unhandled).toEqual([])
    expect(store.failures).toBe(2)
    expect((await recordOf(store))!.status).toBe('ended')
    expect(emitted.map((e) => e.event)).toEqual(['live', 'ended'])
    expect(failures).toHaveLength(2)
    checks.stop()
    await tracker.close?.()
  })

  it('a failed emit of a transition at start is retried in the background', async () => {
    const store = flakyStore()
    // A record whose `live` was never handed on (a crash between the state write and the emit).
    await updateWithRetry(store, STREAM, (r) => {
      r.status = 'live'
      r.session = `${STREAM}@1`
      r.liveSince = 1
      r.feeds.a = { started: 1 }
    })
    const emitted: HookEvent[] = []
    let failing = 2
    const checks = timedChecks(() => tracker)
    const tracker = createStreamTracker({
      store,
      flapWindowMs: 1_000,
      log: silentLogger,
      scheduleCheck: checks.scheduleCheck,
      emit: async (e) => {
        if (failing-- > 0) throw new Error('spool full')
        emitted.push(e)
      },
    })
    await tracker.start()
    for (let i = 0; i < 120; i++) {
      await vi.advanceTimersByTimeAsync(1_000)
      await settle()
    }
    vi.useRealTimers()
    await eventually(() => emitted.length === 1 || undefined, 15_000).catch(() => {})
    expect(unhandled).toEqual([])
    expect(emitted.map((e) => e.event)).toEqual(['live'])
    expect((await recordOf(store))!.emitted.live).toBe(`${STREAM}@1`)
    checks.stop()
    await tracker.close?.()
  })
})

describe('local stream store background writes', () => {
  let dir: ReturnType<typeof tempDir>
  beforeEach(() => {
    dir = tempDir('hookcast-streams-bg-')
  })
  afterEach(() => dir.remove())

  it('a lazy write that fails is retried until the directory is back, and counted', async () => {
    const state = `${dir.path}/state`
    const failures: string[] = []
    const store = await openLocalStreamStore({
      dir: state,
      log: silentLogger,
      onBackgroundFailure: (what: string) => {
        failures.push(what)
      },
    } as Parameters<typeof openLocalStreamStore>[0])
    await updateWithRetry(store, STREAM, (r) => {
      r.streamName = 'show'
    })
    // The directory goes away (a file where it was): every write fails.
    renameSync(state, `${state}.away`)
    writeFileSync(state, 'not a directory')
    await updateWithRetry(
      store,
      STREAM,
      (r) => {
        r.accountId = 'ZG6NWV'
      },
      { lazy: true },
    )
    await eventually(() => failures.length > 0) // the lazy write came due, failed and was counted
    rmSync(state)
    renameSync(`${state}.away`, state)
    // Once it is back, the lazy change lands without any further update.
    let reopened: StreamStore | undefined
    for (const deadline = Date.now() + 15_000; Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 250))
      reopened = await openLocalStreamStore({ dir: state, log: silentLogger })
      const found = (await recordOf(reopened))?.accountId
      await reopened.close()
      if (found === 'ZG6NWV') break
      reopened = undefined
    }
    expect(reopened).toBeDefined()
    await store.close()
  })
})
