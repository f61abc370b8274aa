/** Stream records as data: the private copy a store hands out. */
import { describe, expect, it } from 'vitest'
import { cloneRecord, normaliseRecord } from '../../src/streams/stream-record.ts'
import { dict, type StreamRecord } from '../../src/streams/stream-types.ts'

function fullRecord(): StreamRecord {
  const ref = (eventId: string) => ({
    eventId,
    timestamp: 1_700_000_000_000,
    feedId: 'f1',
    event: {
      id: eventId,
      source: 'millicast',
      type: 'thumbnail',
      event: 'thumbnail',
      timestamp: 1,
      receivedAt: 2,
      streamId: 'a/b',
      contentType: 'image/jpeg' as const,
      bodySha256: 'ab',
    },
  })
  const feeds = dict<StreamRecord['feeds'][string]>()
  feeds['f1'] = { started: 1, ended: 2 }
  feeds['__proto__'] = { started: 3 }
  const alerts = dict<Record<string, Record<string, string>>>()
  alerts['slack'] = dict()
  alerts['slack']['a/b@1'] = Object.assign(dict<string>(), { ts: '123.456', channel: 'C1' })
  return {
    streamId: 'a/b',
    accountId: 'a',
    streamName: 'b',
    status: 'ending',
    session: 'a/b@1',
    liveSince: 1,
    endedAt: 2,
    endingSince: 3,
    feeds,
    firstThumbnail: ref('first'),
    latestThumbnail: ref('latest'),
    alerts,
    emitted: { live: 'a/b@1' },
    emitting: { ended: { session: 'a/b@1', by: 'e1', at: 4 } },
    updatedAt: 5,
  }
}

describe('cloneRecord', () => {
  it('copies every field, as a JSON round trip would read it back', () => {
    const record = fullRecord()
    expect(cloneRecord(record)).toEqual(normaliseRecord(JSON.parse(JSON.stringify(record)), 0))
  })

  it('is deep: changing any part of the copy leaves the original as it was', () => {
    const record = fullRecord()
    const before = JSON.stringify(record)
    const copy = cloneRecord(record)
    copy.feeds['f1']!.ended = 99
    copy.feeds['new'] = {}
    copy.alerts['slack']!['a/b@1']!['ts'] = 'changed'
    copy.alerts['slack']!['other'] = dict()
    copy.emitted.ended = 'x'
    copy.emitting!.ended!.by = 'someone else'
    copy.firstThumbnail!.event.streamId = 'c/d'
    copy.latestThumbnail!.timestamp = 0
    expect(JSON.stringify(record)).toBe(before)
  })

  it('keeps input maps without a prototype, so `__proto__` stays a feed like any other', () => {
    const copy = cloneRecord(fullRecord())
    expect(Object.getPrototypeOf(copy.feeds)).toBe(null)
    expect(Object.getPrototypeOf(copy.alerts['slack']!['a/b@1'])).toBe(null)
    expect(Object.keys(copy.feeds)).toEqual(['f1', '__proto__'])
    expect(copy.feeds['__proto__']).toEqual({ started: 3 })
  })
})
