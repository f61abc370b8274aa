import { describe, expect, it } from 'vitest'
import { hookContentType, parseJsonHook, parseThumbnail } from '../../src/events/parse.ts'
import { HookRejected } from '../../src/events/errors.ts'
import { httpErrorOf } from '../../src/http/errors.ts'
import { FEED_ID, jpeg, PAYLOADS, STREAM_ID } from '../support/hooks.ts'

const ctx = { source: 'millicast', receivedAt: 1_700_000_000_000 }
const bytes = (value: unknown) => new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value))

describe('parseJsonHook', () => {
  it('parses every documented kind into one typed event', async () => {
    const feeds = await parseJsonHook(bytes(PAYLOADS.feedsStarted), ctx)
    expect(feeds).toMatchObject({
      source: 'millicast',
      type: 'feeds',
      event: 'started',
      timestamp: 1638463486489,
      receivedAt: ctx.receivedAt,
      streamId: STREAM_ID,
      streamName: 'sample_stream',
      accountId: 'ZG6NWV',
      feedId: FEED_ID,
      contentType: 'application/json',
    })
    expect(feeds.id).toMatch(/^[0-9a-f]{24}$/)
    expect(feeds.data).toEqual(PAYLOADS.feedsStarted.data)

    expect(await parseJsonHook(bytes(PAYLOADS.recordingsCompleted), ctx)).toMatchObject({
      type: 'recordings',
      event: 'completed',
      streamName: 'testy',
      tokenId: '142366',
    })
    expect(await parseJsonHook(bytes(PAYLOADS.mediaCompleted), ctx)).toMatchObject({
      type: 'media',
      event: 'completed',
      streamId: 'dkxfvY/test-record-clip',
      accountId: 'dkxfvY',
      streamName: 'test-record-clip',
      tokenId: '1187282',
    })
    expect(await parseJsonHook(bytes(PAYLOADS.transcoderActive), ctx)).toMatchObject({
      type: 'transcoder',
      event: 'ACTIVE',
    })
    expect(await parseJsonHook(bytes(PAYLOADS.viewerAttempt), ctx)).toMatchObject({
      type: 'viewerConnection',
      event: 'ViewerAttempt',
      streamId: STREAM_ID,
      streamName: 'sample_stream',
    })
  })

  it('keeps the exact signed bytes', async () => {
    const raw = bytes('{ "type" : "feeds","event":"ended", "timestamp":1638463501075,"data":{"feedId":"x","é":"ü"} }')
    expect((await parseJsonHook(raw, ctx)).body).toBe(raw)
  })

  it('matches kinds and event names case-insensitively into their documented spelling', async () => {
    const event = await parseJsonHook(
      bytes({ ...PAYLOADS.viewerAttempt, type: 'viewerconnection', event: 'viewerAttempt' }),
      ctx,
    )
    expect([event.type, event.event]).toEqual(['viewerConnection', 'ViewerAttempt'])
    const transcoder = await parseJsonHook(bytes({ ...PAYLOADS.transcoderActive, event: 'stopped' }), ctx)
    expect(transcoder.event).toBe('STOPPED')
  })

  it('accepts a kind it does not know yet, keeping its names', async () => {
    const event = await parseJsonHook(
      bytes({ type: 'clips', event: 'Ready', timestamp: 1700000000000, data: { streamId: 'A/b' } }),
      ctx,
    )
    expect(event).toMatchObject({ type: 'clips', event: 'Ready', streamId: 'A/b', accountId: 'A', streamName: 'b' })
  })

  it('accepts a known kind with an undocumented shape, with a warning', async () => {
    const warnings: unknown[] = []
    const event = await parseJsonHook(
      bytes({ type: 'feeds', event: 'started', timestamp: 1, data: { streamId: 'A/b' } }),
      { ...ctx, warn: (message, fields) => warnings.push({ message, fields }) },
    )
    expect(event.streamId).toBe('A/b')
    expect(warnings).toEqual([
      {
        message: expect.stringContaining('documented shape'),
        fields: expect.objectContaining({ path: 'data.feedId' }),
      },
    ])
  })

  it('treats a 10-digit timestamp as seconds (the old docs said seconds)', async () => {
    const event = await parseJsonHook(bytes({ ...PAYLOADS.feedsStarted, timestamp: 1638463486 }), ctx)
    expect(event.timestamp).toBe(1638463486000)
  })

  it('gives the same id to the same bytes and another to other bytes', async () => {
    const a = await parseJsonHook(bytes(PAYLOADS.feedsStarted), ctx)
    const b = await parseJsonHook(bytes(PAYLOADS.feedsStarted), { ...ctx, receivedAt: 5 })
    const c = await parseJsonHook(bytes(PAYLOADS.feedsEnded), ctx)
    expect(a.id).toBe(b.id)
    expect(a.id).not.toBe(c.id)
  })

  it.each([
    ['not JSON', '{"type":', 'malformed_json'],
    ['invalid UTF-8', new Uint8Array([0x7b, 0xff, 0x7d]), 'malformed_json'],
    ['an array', '[1,2]', 'malformed_envelope'],
    ['no type', '{"event":"started","timestamp":1,"data":{}}', 'malformed_envelope'],
    ['a string timestamp', '{"type":"feeds","event":"started","timestamp":"1","data":{}}', 'malformed_envelope'],
    // Values no platform hook carries, which would make a later step fail on every attempt (a poison event).
    ['a timestamp far before 1970', '{"type":"feeds","event":"started","timestamp":-1e20,"data":{}}', 'bad_timestamp'],
    [
      'a timestamp past 2100',
      '{"type":"feeds","event":"started","timestamp":9999999999999,"data":{}}',
      'bad_timestamp',
    ],
    [
      'an impossible started time',
      JSON.stringify({ ...PAYLOADS.feedsStarted, data: { ...PAYLOADS.feedsStarted.data, started: 1e300 } }),
      'bad_timestamp',
    ],
    [
      '20,000 levels of nesting',
      `{"type":"media","event":"completed","timestamp":1700000000000,"data":{"metadata":${'['.repeat(20_000)}${']'.repeat(20_000)}}}`,
      'too_deeply_nested',
    ],
    [
      'a 5 MB stream id',
      JSON.stringify({
        ...PAYLOADS.feedsStarted,
        data: { ...PAYLOADS.feedsStarted.data, streamId: `A/${'x'.repeat(5_000_000)}` },
      }),
      'bad_stream_id',
    ],
    [
      'a huge feed id',
      JSON.stringify({ ...PAYLOADS.feedsStarted, data: { ...PAYLOADS.feedsStarted.data, feedId: 'f'.repeat(1000) } }),
      'bad_feed_id',
    ],
    // hookcast's own kind: a signed hook may not post live/ended alerts past the tracker.
    [
      "the type of hookcast's own events",
      '{"type":"STREAM","event":"live","timestamp":1700000000000,"data":{"streamId":"A/b"}}',
      'reserved_type',
    ],
    [
      "the type of hookcast's own events (exact)",
      '{"type":"stream","event":"ended","timestamp":1700000000000,"data":{"durationMs":1}}',
      'reserved_type',
    ],
    [
      "the type of hookcast's internal work",
      '{"type":"Hookcast.Check","event":"check","timestamp":1700000000000,"data":{"streamId":"A/b"}}',
      'reserved_type',
    ],
  ])('refuses %s with a 400', async (_, body, reason) => {
    const error = await parseJsonHook(typeof body === 'string' ? bytes(body) : body, ctx).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(HookRejected)
    expect(httpErrorOf(error)).toMatchObject({ status: 400, reason })
  })
})

describe('parseThumbnail', () => {
  const headers = (overrides: Record<string, string | undefined> = {}) => {
    const h = new Headers({
      'x-millicast-feed-id': FEED_ID,
      'x-millicast-stream-id': STREAM_ID,
      'x-millicast-timestamp': '1679974440650',
      'x-millicast-token-id': '1187282',
    })
    for (const [key, value] of Object.entries(overrides)) value === undefined ? h.delete(key) : h.set(key, value)
    return h
  }

  it('takes the stream details from the headers and keeps the JPEG bytes', async () => {
    const body = jpeg('a')
    const event = await parseThumbnail(body, headers(), ctx)
    expect(event).toMatchObject({
      type: 'thumbnail',
      event: 'thumbnail',
      timestamp: 1679974440650,
      streamId: STREAM_ID,
      accountId: 'ZG6NWV',
      streamName: 'sample_stream',
      feedId: FEED_ID,
      tokenId: '1187282',
      contentType: 'image/jpeg',
    })
    expect(event.body).toBe(body)
  })

  it('gives another id to the same JPEG with other metadata (a replay with altered headers)', async () => {
    const body = jpeg('a')
    const a = await parseThumbnail(body, headers(), ctx)
    const b = await parseThumbnail(body, headers({ 'x-millicast-timestamp': '1679974440651' }), ctx)
    expect(a.id).not.toBe(b.id)
  })

  it.each([
    ['a body that is not a JPEG', {}, new TextEncoder().encode('GIF89a....'), 'not_a_jpeg'],
    ['a path in the feed id', { 'x-millicast-feed-id': '../../etc/passwd' }, undefined, 'bad_feed_id'],
    ['no feed id', { 'x-millicast-feed-id': undefined }, undefined, 'bad_feed_id'],
    ['a stream id with ..', { 'x-millicast-stream-id': 'ZG6NWV/..' }, undefined, 'bad_stream_id'],
    ['a stream id with three parts', { 'x-millicast-stream-id': 'a/b/c' }, undefined, 'bad_stream_id'],
    ['a stream id with a backslash', { 'x-millicast-stream-id': 'a/..\\b' }, undefined, 'bad_stream_id'],
    ['an ISO timestamp', { 'x-millicast-timestamp': '2023-03-28T03:34:00.650Z' }, undefined, 'bad_timestamp'],
    ['a seconds timestamp', { 'x-millicast-timestamp': '1679974440' }, undefined, 'bad_timestamp'],
    ['a timestamp past 2100', { 'x-millicast-timestamp': '9999999999999' }, undefined, 'bad_timestamp'],
    ['a token id that is not a number', { 'x-millicast-token-id': 'abc' }, undefined, 'bad_token_id'],
  ])('refuses %s with a 400', async (_, overrides, body, reason) => {
    const error = await parseThumbnail(body ?? jpeg('x'), headers(overrides), ctx).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(HookRejected)
    expect(httpErrorOf(error)).toMatchObject({ status: 400, reason })
  })
})

describe('hookContentType', () => {
  it('classifies content types', () => {
    expect(hookContentType('image/jpeg')).toBe('image/jpeg')
    expect(hookContentType('application/json; charset=utf-8')).toBe('application/json')
    expect(hookContentType(null)).toBe('application/json')
    expect(hookContentType('application/vnd.x+json')).toBe('application/json')
    expect(hookContentType('text/html')).toBeUndefined()
    expect(hookContentType('image/png')).toBeUndefined()
  })
})
