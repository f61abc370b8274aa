/** Retention's rules and bookkeeping, on an in-memory store (the contract suite runs it against real backends). */
import { describe, expect, it } from 'vitest'
import {
  createRetention,
  expiredKeys,
  MAX_REMOVALS_PER_SWEEP,
  type RetentionStore,
  type StoredObject,
} from '../../src/sinks/retention.ts'
import { retentionConfig, scopeTemplate } from '../../src/config/retention.ts'
import type { Logger } from '../../src/log.ts'
import { makeEvent } from '../support/events.ts'
import { renderKey } from '../../src/template/key.ts'

function memoryStore(objects: Map<string, number>, options: { failList?: boolean } = {}) {
  const calls = { list: 0, removed: [] as string[] }
  let release: () => void = () => {}
  let gate: Promise<void> | undefined
  const store: RetentionStore = {
    async list(prefix) {
      calls.list++
      await gate
      if (options.failList) throw new Error('AccessDenied on ListBucket')
      return [...objects]
        .filter(([key]) => key.startsWith(prefix))
        .map(([key, modified]): StoredObject => ({ key, modified }))
    },
    async remove(keys) {
      for (const key of keys) objects.delete(key)
      calls.removed.push(...keys)
    },
  }
  return {
    store,
    calls,
    /** Holds every listing until released, to line up concurrent puts. */
    hold() {
      gate = new Promise((resolve) => {
        release = resolve
      })
      return () => {
        gate = undefined
        release()
      }
    },
  }
}

function recordingLog(): Logger & { lines: { level: string; message: string; fields?: Record<string, unknown> }[] } {
  const lines: { level: string; message: string; fields?: Record<string, unknown> }[] = []
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) =>
    void lines.push({ level, message, ...(fields ? { fields } : {}) })
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}

const KEY = '{type}/{streamId}/{date}/{timestamp}.{ext}'
const rules = (raw: Record<string, unknown>) => retentionConfig.parse(raw)

describe('expiredKeys', () => {
  const objects = [
    { key: 'a/1', modified: 1000 },
    { key: 'a/2', modified: 2000 },
    { key: 'a/3', modified: 3000 },
    { key: 'a/4', modified: 3000 },
  ]

  it('keeps the newest N, breaking equal times by key', () => {
    expect(expiredKeys(objects, { keepLatest: 2 }, 0, new Set())).toEqual(['a/2', 'a/1'])
  })

  it('drops what is older than maxAge, and both rules together', () => {
    expect(expiredKeys(objects, { maxAge: 1500 }, 3400, new Set())).toEqual(['a/1'])
    expect(expiredKeys(objects, { keepLatest: 3, maxAge: 500 }, 3200, new Set())).toEqual(['a/2', 'a/1'])
  })

  it('never names a protected key', () => {
    expect(expiredKeys(objects, { keepLatest: 1, maxAge: 1 }, 10_000, new Set(['a/1', 'a/3']))).toEqual(['a/4', 'a/2'])
  })
})

describe('scopeTemplate', () => {
  it('is the folders up to and including the one naming the stream', () => {
    expect(scopeTemplate(KEY)).toBe('{type}/{streamId}')
    expect(scopeTemplate('thumbs/{accountId}/{streamName}/{date}/{id}.jpg')).toBe('thumbs/{accountId}/{streamName}')
    expect(scopeTemplate('{type}/{timestamp}-{streamId}.{ext}')).toBeUndefined()
  })
})

describe('createRetention', () => {
  const thumb = (timestamp: number) => makeEvent({ timestamp })

  it('sweeps only the scope of the event, and only for the listed types', async () => {
    const objects = new Map([
      ['thumbnail/ZG6NWV/lobby/2023-03-28/1.jpg', 1],
      ['thumbnail/ZG6NWV/lobby/2023-03-28/2.jpg', 2],
      ['thumbnail/ZG6NWV/lobby2/2023-03-28/1.jpg', 1],
      ['feeds/ZG6NWV/lobby/2023-03-28/1.json', 1],
    ])
    const { store, calls } = memoryStore(objects)
    const retention = createRetention(rules({ keepLatest: 1, types: ['thumbnail'], sweepEvery: 0 }), KEY, store, {
      sink: 'pics',
      log: recordingLog(),
      now: () => 10,
    })
    await retention.afterPut(
      makeEvent({ type: 'feeds', event: 'started', contentType: 'application/json' }),
      'feeds/ZG6NWV/lobby/2023-03-28/9.json',
    )
    expect(calls.list).toBe(0)
    await retention.afterPut(thumb(2), 'thumbnail/ZG6NWV/lobby/2023-03-28/2.jpg')
    expect(calls.removed).toEqual(['thumbnail/ZG6NWV/lobby/2023-03-28/1.jpg'])
    expect([...objects.keys()]).toHaveLength(3)
  })

  it("sweeps the stream's folder as the event's key has it, when a long key had to shorten that folder too", async () => {
    const template = `{type}/{streamId}/${['x', 'y', 'z'].map((c) => c.repeat(200)).join('/')}/{timestamp}.{ext}`
    const stream = makeEvent({ streamId: `${'é'.repeat(100)}/${'日'.repeat(100)}`, timestamp: 2 })
    const key = renderKey(template, stream)
    const folder = key.split('/').slice(0, 3).join('/')
    expect(folder).not.toBe(renderKey('{type}/{streamId}/{id}', stream).split('/').slice(0, 3).join('/'))
    const objects = new Map([
      [`${folder}/${'x'.repeat(200)}/old.jpg`, 1],
      [key, 2],
    ])
    const { store } = memoryStore(objects)
    const retention = createRetention(rules({ keepLatest: 1, sweepEvery: 0 }), template, store, {
      sink: 'pics',
      log: recordingLog(),
      now: () => 10,
    })
    await retention.afterPut(stream, key)
    expect([...objects.keys()]).toEqual([key])
  })

  it('logs a failed sweep as a warning and resolves', async () => {
    const log = recordingLog()
    const { store } = memoryStore(new Map(), { failList: true })
    const retention = createRetention(rules({ keepLatest: 1, sweepEvery: 0 }), KEY, store, {
      sink: 'pics',
      log,
      now: () => 10,
    })
    await expect(retention.afterPut(thumb(1), 'thumbnail/ZG6NWV/lobby/x.jpg')).resolves.toBeUndefined()
    expect(log.lines).toEqual([
      {
        level: 'warn',
        message: 'retention sweep failed; the event itself was stored',
        fields: { sink: 'pics', prefix: 'thumbnail/ZG6NWV/lobby/', error: 'AccessDenied on ListBucket' },
      },
    ])
  })

  it('runs one sweep per scope at a time: puts arriving meanwhile share one follow-up sweep that spares their keys', async () => {
    const objects = new Map([['thumbnail/ZG6NWV/lobby/d/0.jpg', 0]])
    const { store, calls, hold } = memoryStore(objects)
    const retention = createRetention(rules({ keepLatest: 1, sweepEvery: 0 }), KEY, store, {
      sink: 'pics',
      log: recordingLog(),
      now: () => 10,
    })
    const release = hold()
    const first = retention.afterPut(thumb(1), 'thumbnail/ZG6NWV/lobby/d/0.jpg')
    for (let i = 1; i <= 3; i++) objects.set(`thumbnail/ZG6NWV/lobby/d/${i}.jpg`, i)
    const others = [1, 2, 3].map((i) => retention.afterPut(thumb(1 + i), `thumbnail/ZG6NWV/lobby/d/${i}.jpg`))
    release()
    await Promise.all([first, ...others])
    expect(calls.list).toBe(2)
    // The first sweep spared its own 0.jpg and the waiting puts' 1-3; the follow-up spared 1-3 and removed 0.
    expect(calls.removed).toEqual(['thumbnail/ZG6NWV/lobby/d/0.jpg'])
    expect([...objects.keys()]).toEqual([
      'thumbnail/ZG6NWV/lobby/d/1.jpg',
      'thumbnail/ZG6NWV/lobby/d/2.jpg',
      'thumbnail/ZG6NWV/lobby/d/3.jpg',
    ])
  })

  it('works off a backlog in bounded sweeps, oldest first, one per put', async () => {
    const backlog = MAX_REMOVALS_PER_SWEEP + 500
    const objects = new Map(
      Array.from(
        { length: backlog },
        (_, i) => [`thumbnail/ZG6NWV/lobby/d/${String(i).padStart(5, '0')}.jpg`, i] as const,
      ),
    )
    const { store, calls } = memoryStore(objects)
    const log = recordingLog()
    const retention = createRetention(rules({ keepLatest: 10, sweepEvery: '1h' }), KEY, store, {
      sink: 'pics',
      log,
      now: () => 10_000,
    })
    await retention.afterPut(thumb(1), 'thumbnail/ZG6NWV/lobby/d/x.jpg')
    expect(calls.removed).toHaveLength(MAX_REMOVALS_PER_SWEEP)
    // The oldest go first: the 1,000 lowest numbers of the 1,490 past keepLatest.
    expect([calls.removed[0], calls.removed.at(-1)]).toEqual([
      'thumbnail/ZG6NWV/lobby/d/00999.jpg',
      'thumbnail/ZG6NWV/lobby/d/00000.jpg',
    ])
    // Work was left, so the next put sweeps although sweepEvery (1h) has not passed; then the throttle holds again.
    await retention.afterPut(thumb(2), 'thumbnail/ZG6NWV/lobby/d/y.jpg')
    expect(objects.size).toBe(10)
    await retention.afterPut(thumb(3), 'thumbnail/ZG6NWV/lobby/d/z.jpg')
    expect(calls.list).toBe(2)
    expect(log.lines.map((line) => line.fields?.left)).toEqual([500 - 10, 0])
  })
})
