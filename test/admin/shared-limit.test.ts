/**
 * The failure limit across instances, over a memory store standing for the shared backend: wrong tokens past the
 * limit are refused whichever instance counted the others, a right one only while under it, and a store that fails
 * leaves each instance's own gate as the limit (logged) rather than locking everyone out.
 */
import { describe, expect, it } from 'vitest'
import { createSharedLimit } from '../../src/admin/shared-limit.ts'
import { memorySessionStore } from '../../src/admin/memory-session-store.ts'
import type { SessionStore } from '../../src/admin/session-store.ts'
import type { Logger } from '../../src/log.ts'

describe('shared failure limit', () => {
  it('answers the first maxFailures wrong tokens of a window, then refuses wrong and right until it ends', async () => {
    let clock = 1_000_000
    const store = memorySessionStore()
    const [a, b] = [0, 1].map(() => createSharedLimit(store, { maxFailures: 4, windowMs: 60_000, now: () => clock }))
    for (let i = 0; i < 4; i++) expect(await (i % 2 ? a! : b!).settle('203.0.113.9', false)).toBeUndefined()
    expect(await a!.settle('203.0.113.9', false)).toBe(60)
    clock += 20_000
    expect(await b!.settle('203.0.113.9', true)).toBe(40)
    expect(await b!.settle('203.0.113.10', true)).toBeUndefined()
    clock += 40_000
    expect(await a!.settle('203.0.113.9', true)).toBeUndefined()
  })

  it('a failing store leaves the verdict to the local gate, and says so in the log', async () => {
    const broken = new Proxy(memorySessionStore(), {
      get: () => async () => {
        throw new Error('nats: disconnected')
      },
    }) as SessionStore
    const warnings: string[] = []
    const log = { warn: (message: string) => warnings.push(message) } as unknown as Logger
    const limit = createSharedLimit(broken, { log })
    expect(await limit.settle('203.0.113.9', false)).toBeUndefined()
    expect(await limit.settle('203.0.113.9', true)).toBeUndefined()
    expect(warnings).toHaveLength(2)
    expect(warnings[0]).toMatch(/counts alone/)
  })
})
