/**
 * The event a queue hands to a delivery: a JSON hook's `data` comes from its body, parsed only when a destination
 * reads it.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { loadedEvent, type EventMeta } from '../../src/queue/loaded-event.ts'

const meta = (contentType: EventMeta['contentType']): EventMeta => ({
  id: 'a'.repeat(24),
  source: 'millicast',
  type: 'feeds',
  event: 'started',
  timestamp: 1,
  receivedAt: 2,
  contentType,
  bodyCrc32: 0,
})
const json = (payload: unknown) => new TextEncoder().encode(JSON.stringify(payload))

afterEach(() => vi.restoreAllMocks())

describe('loadedEvent', () => {
  it('gives a JSON hook its data, parsed from the body once, and only when read', () => {
    const parse = vi.spyOn(JSON, 'parse')
    const event = loadedEvent(meta('application/json'), json({ type: 'feeds', data: { feedId: 'f1', active: true } }))
    expect(parse).not.toHaveBeenCalled() // a sink that stores the body never parses it
    expect(event.data).toEqual({ feedId: 'f1', active: true })
    expect(event.data).toBe(event.data)
    expect(parse).toHaveBeenCalledTimes(1)
    expect({ ...event }.data).toEqual({ feedId: 'f1', active: true }) // copies carry it
  })

  it('a body without data gives none; data can be set; a thumbnail has none at all', () => {
    expect(loadedEvent(meta('application/json'), json({ type: 'feeds' })).data).toBeUndefined()
    const event = loadedEvent(meta('application/json'), json({ data: { a: 1 } }))
    event.data = { b: 2 }
    expect(event.data).toEqual({ b: 2 })
    const thumbnail = loadedEvent(meta('image/jpeg'), new Uint8Array([0xff, 0xd8, 0xff]))
    expect('data' in thumbnail).toBe(false)
    expect(thumbnail.body).toEqual(new Uint8Array([0xff, 0xd8, 0xff]))
  })
})
