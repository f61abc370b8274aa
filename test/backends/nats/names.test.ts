/** Names of the NATS queue's streams, subjects and consumers. */
import { describe, expect, it } from 'vitest'
import { fromSubjectToken, natsNames, subjectToken } from '../../../src/backends/nats/queue-names.ts'

describe('NATS names', () => {
  it('keeps destination names and maps the internal @streams to a token no destination can have', () => {
    expect(subjectToken('disk-1_a')).toBe('disk-1_a')
    expect(subjectToken('@streams')).toBe('=40streams')
    expect(fromSubjectToken('=40streams')).toBe('@streams')
    expect(fromSubjectToken('disk-1_a')).toBe('disk-1_a')
  })

  it('round-trips any name, with nothing a subject token may not have', () => {
    for (const name of ['a.b', 'a b', 'a*>', 'é/ü', '=41', '\u0000x']) {
      const token = subjectToken(name)
      expect(token).toMatch(/^[A-Za-z0-9_=-]+$/)
      expect(fromSubjectToken(token)).toBe(name)
    }
    expect(fromSubjectToken('a.b')).toBeUndefined()
    expect(fromSubjectToken('=4')).toBeUndefined()
    expect(fromSubjectToken('=FF')).toBeUndefined() // not UTF-8
  })

  it('names streams and subjects from the prefix', () => {
    const names = natsNames('hookcast')
    expect(names.jetStreams).toEqual({
      events: 'hookcast-events',
      deliveries: 'hookcast-deliveries',
      dead: 'hookcast-dead',
      chunks: 'hookcast-chunks',
    })
    expect(names.event('abc')).toBe('hookcast.events.abc')
    expect(names.delivery('@streams', 42)).toBe('hookcast.deliver.=40streams.42')
    expect(names.deliveries('disk')).toBe('hookcast.deliver.disk.*')
    expect(names.deadFilter({})).toBe('hookcast.dead.*.*')
    expect(names.deadFilter({ destination: 'hook', eventId: 'abc' })).toBe('hookcast.dead.hook.abc')
    expect(() => natsNames('a.b')).toThrow(/prefix/)
  })
})
