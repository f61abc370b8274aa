/**
 * The tracker's checks: internal events that reach the tracker alone. No route matches them, whatever it names;
 * the same check has the same id (queued once); a malformed one is ignored.
 */
import { describe, expect, it } from 'vitest'
import { CHECK_TYPE, checkEvent, readCheck } from '../../src/streams/check-event.ts'
import { compileRoutes, route } from '../../src/routing/router.ts'
import type { RouteConfig } from '../../src/config/config-schema.ts'
import { makeEvent } from '../support/events.ts'

const routes = (...list: Array<RouteConfig['when']>) => compileRoutes(list.map((when, i) => ({ when, to: [`d${i}`] })))

describe('stream checks', () => {
  it('match no route: not a catch-all, not one naming their kind, source or stream', async () => {
    const check = await checkEvent({ streamId: 'ZG6NWV/show', at: 1_000, attempt: 0 }, 0)
    const compiled = routes(
      {},
      { type: [CHECK_TYPE] },
      { type: ['HOOKCAST.CHECK'], event: ['check'] },
      { source: ['hookcast'] },
      { stream: ['**'] },
      { type: ['stream', 'feeds', 'thumbnail'] },
    )
    expect(route(check, compiled)).toEqual([])
    expect(route(makeEvent({ type: 'hookcast.anything', event: 'x' }), compiled)).toEqual([])
    // The same routes still take what they name.
    expect(route(makeEvent({ type: 'feeds', event: 'started' }), compiled)).toEqual(['d0', 'd4', 'd5'])
    expect(route(makeEvent({ type: 'stream', event: 'live', source: 'hookcast' }), compiled)).toEqual(['d5'])
  })

  it('the same check has the same id; another time, retry or holder has another', async () => {
    const base = { streamId: 'ZG6NWV/show', at: 1_000, attempt: 0 }
    const id = (await checkEvent(base, 5)).id
    expect((await checkEvent(base, 99)).id).toBe(id) // put again later: the same check
    expect((await checkEvent({ ...base, at: 2_000 }, 5)).id).not.toBe(id)
    expect((await checkEvent({ ...base, attempt: 1 }, 5)).id).not.toBe(id)
    expect((await checkEvent({ ...base, by: 'abc' }, 5)).id).not.toBe(id)
    expect((await checkEvent({ ...base, streamId: 'ZG6NWV/other' }, 5)).id).not.toBe(id)
  })

  it('reads back what it carries; anything else is not a check', async () => {
    const check = { streamId: 'ZG6NWV/show', at: 1_000, by: 'abc', attempt: 2 }
    expect(readCheck(await checkEvent(check, 0))).toEqual(check)
    expect(readCheck(makeEvent({ type: 'feeds' }))).toBeUndefined()
    expect(readCheck(makeEvent({ type: CHECK_TYPE, data: { streamId: 5, at: 1 } }))).toBeUndefined()
    expect(readCheck(makeEvent({ type: CHECK_TYPE, data: { streamId: 'a/b' } }))).toBeUndefined()
  })
})
