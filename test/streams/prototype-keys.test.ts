/**
 * Ids that are also names of Object.prototype's members (`__proto__`, `constructor`, `toString`) are plain ids:
 * they neither pollute the process nor confuse the stream state.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createStreamTracker } from '../../src/streams/tracker.ts'
import { openLocalStreamStore } from '../../src/backends/local/stream-store.ts'
import type { StreamStore } from '../../src/streams/stream-store.ts'
import type { HookEvent } from '../../src/events/types.ts'
import { parseJsonHook } from '../../src/events/parse.ts'
import { createGateway, type Gateway } from '../../src/gateway.ts'
import { parseConfig } from '../../src/config/load.ts'
import { silentLogger } from '../../src/log.ts'
import { post, SECRET, signedJson } from '../support/hooks.ts'
import { tempDir } from '../support/files.ts'
import { eventually } from '../support/wait.ts'
import { timedChecks, type TimedChecks } from './support.ts'

const KEYS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']
const STREAM = 'ZG6NWV/show'

/** Whatever a polluting write could have added to Object.prototype, removed again so other tests run clean. */
const FIELDS = ['started', 'ended', 'polluted']
function cleanPrototype(): string[] {
  const added = Object.getOwnPropertyNames(Object.prototype).filter((name) => FIELDS.includes(name))
  for (const name of added) delete (Object.prototype as Record<string, unknown>)[name]
  return added
}

const feedPayload = (event: 'started' | 'ended', feedId: string, at: number, streamId = STREAM) => ({
  type: 'feeds',
  event,
  timestamp: at + 5,
  data: { feedId, accountId: 'ZG6NWV', name: 'show', streamId, active: event === 'started', [event]: at },
})

afterEach(() => {
  cleanPrototype()
})

describe('feed ids named like Object.prototype members', () => {
  let dir: ReturnType<typeof tempDir>
  let store: StreamStore
  let emitted: HookEvent[]
  let tracker: ReturnType<typeof createStreamTracker>
  let checks: TimedChecks
  const make = async () => {
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
  }
  const feed = (event: 'started' | 'ended', feedId: string, at: number) =>
    parseJsonHook(new TextEncoder().encode(JSON.stringify(feedPayload(event, feedId, at))), {
      source: 'millicast',
      receivedAt: Date.now(),
    })

  beforeEach(async () => {
    dir = tempDir('hookcast-proto-')
    emitted = []
    await make()
  })
  afterEach(async () => {
    checks.stop()
    await tracker.close?.()
    await store.close()
    dir.remove()
  })

  it('are feeds like any other, kept across a restart, and pollute nothing', async () => {
    const t0 = Date.now() - 60_000
    for (const [i, key] of KEYS.entries()) await tracker.deliver(await feed('started', key, t0 + i))
    expect(cleanPrototype()).toEqual([])
    expect(({} as Record<string, unknown>).started).toBeUndefined()
    const record = (await store.get(STREAM))!.record
    expect(record.status).toBe('live')
    expect(Object.keys(record.feeds).sort()).toEqual([...KEYS].sort())
    expect(emitted.map((e) => e.event)).toEqual(['live'])
    expect(emitted[0]!.data!.feeds).toEqual(['__proto__']) // live with its first feed

    // After a restart (state read back from disk), the same ids still name the same feeds.
    await tracker.close?.()
    await store.close()
    await make()
    expect(Object.keys((await store.get(STREAM))!.record.feeds).sort()).toEqual([...KEYS].sort())
    for (const [i, key] of KEYS.entries()) await tracker.deliver(await feed('ended', key, t0 + 1_000 + i))
    expect(cleanPrototype()).toEqual([])
    await eventually(() => emitted.some((e) => e.event === 'ended'), 20_000)
    expect((await store.get(STREAM))!.record.status).toBe('ended')
    expect(Object.keys((await store.get(STREAM))!.record.feeds)).toEqual([])
    expect(emitted.map((e) => e.event)).toEqual(['live', 'ended'])
  })

  it('a stream id named like a prototype member is a stream like any other', async () => {
    for (const key of KEYS) {
      const hook = await parseJsonHook(
        new TextEncoder().encode(JSON.stringify(feedPayload('started', 'a', Date.now(), key))),
        { source: 'millicast', receivedAt: Date.now() },
      )
      await tracker.deliver(hook)
    }
    expect(cleanPrototype()).toEqual([])
    expect((await store.list()).map((r) => r.streamId).sort()).toEqual([...KEYS].sort())
  })
})

describe('a signed feeds hook with feedId __proto__ through the gateway', () => {
  let dir: ReturnType<typeof tempDir>
  let gateway: Gateway
  beforeEach(async () => {
    dir = tempDir('hookcast-proto-app-')
    const config = parseConfig(
      `
sources:
  millicast: { path: /hooks/millicast, secrets: ["${SECRET}"] }
sinks:
  disk: { type: fs, dir: "${dir.path}/data" }
spool: { dir: "${dir.path}/spool" }
streams: { flapWindow: 100ms }
admin: { token: "an-admin-token-long-enough-for-any-rule" }
routes:
  - when: { type: [feeds, stream] }
    to: [disk]
`,
      {},
    )
    gateway = await createGateway(config, { log: silentLogger })
  })
  afterEach(async () => {
    await gateway.close()
    dir.remove()
  })

  it('a hook kind named like a prototype member is an unknown kind like any other (200, not a 500)', async () => {
    for (const type of KEYS) {
      const response = await post(
        'http://hookcast.test/hooks/millicast',
        await signedJson({ type, event: type, timestamp: Date.now(), data: { streamId: STREAM } }),
        gateway.fetch,
      )
      expect(response.status).toBe(200)
      expect(await response.json()).toMatchObject({ ok: true, type, event: type })
    }
    expect(cleanPrototype()).toEqual([])
  })

  it('is tracked as a feed, pollutes nothing, and every answer after it is still right', async () => {
    const t0 = Date.now() - 10_000
    for (const [i, key] of KEYS.entries()) {
      const response = await post(
        'http://hookcast.test/hooks/millicast',
        await signedJson(feedPayload('started', key, t0 + i)),
        gateway.fetch,
      )
      expect(response.status).toBe(200)
    }
    await eventually(
      async () =>
        (await gateway.streams.get(STREAM))?.record.status === 'live' &&
        Object.keys((await gateway.streams.get(STREAM))!.record.feeds).length === KEYS.length,
    )
    expect(cleanPrototype()).toEqual([])
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(({} as Record<string, unknown>).started).toBeUndefined()
    const health = await gateway.fetch(new Request('http://hookcast.test/healthz'))
    expect(health.status).toBe(200)
    const api = await gateway.fetch(
      new Request('http://hookcast.test/api/streams', {
        headers: { authorization: 'Bearer an-admin-token-long-enough-for-any-rule' },
      }),
    )
    expect(api.status).toBe(200)
    expect(await api.json()).toMatchObject({ streams: [{ streamId: STREAM, status: 'live', feeds: KEYS.length }] })
    const another = await post(
      'http://hookcast.test/hooks/millicast',
      await signedJson({ ...feedPayload('ended', '__proto__', t0 + 100) }),
      gateway.fetch,
    )
    expect(another.status).toBe(200)
    await eventually(async () => (await gateway.streams.get(STREAM))!.record.feeds['__proto__']?.ended !== undefined)
    expect(cleanPrototype()).toEqual([])
  })
})
