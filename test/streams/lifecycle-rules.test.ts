/** The stream lifecycle as pure functions over a record: no store, no clock but the `now` given. */
import { describe, expect, it } from 'vitest'
import {
  applyFeed,
  CLAIM_MS,
  claimTransitions,
  dueTransitions,
  endsAt,
  finishIfDue,
  markEmitted,
  takeThumbnail,
} from '../../src/streams/lifecycle-rules.ts'
import type { StreamRecord, ThumbnailRef } from '../../src/streams/stream-types.ts'

const STREAM = 'ZG6NWV/show'
const fresh = (): StreamRecord => ({
  streamId: STREAM,
  status: 'ended',
  feeds: {},
  alerts: {},
  emitted: {},
  updatedAt: 0,
})
const ref = (eventId: string, timestamp: number): ThumbnailRef => ({
  eventId,
  timestamp,
  event: {
    id: eventId,
    source: 'millicast',
    type: 'thumbnail',
    event: 'thumbnail',
    timestamp,
    receivedAt: timestamp,
    streamId: STREAM,
    contentType: 'image/jpeg',
    bodySha256: '0'.repeat(64),
  },
})

describe('applyFeed', () => {
  it('goes live once for several feeds, and ends when the last one ends', () => {
    const r = fresh()
    applyFeed(r, 'a', 'started', 1_000, 0)
    expect(r).toMatchObject({ status: 'live', liveSince: 1_000, session: `${STREAM}@1000` })
    applyFeed(r, 'b', 'started', 2_000, 0)
    expect(r.session).toBe(`${STREAM}@1000`)
    applyFeed(r, 'a', 'ended', 3_000, 0)
    expect(r.status).toBe('live')
    applyFeed(r, 'b', 'ended', 4_000, 50)
    expect(r).toMatchObject({ status: 'ending', endedAt: 4_000, endingSince: 50, session: `${STREAM}@1000` })
  })

  it('takes the earliest start of the active feeds when hooks arrive out of order', () => {
    const r = fresh()
    applyFeed(r, 'b', 'started', 2_000, 0)
    applyFeed(r, 'a', 'started', 1_000, 0)
    expect(r.liveSince).toBe(2_000) // live from the first hook seen; a later, earlier start does not move the session
    expect(r.session).toBe(`${STREAM}@2000`)
  })

  it('treats a reconnect within the window as the same session (a flap)', () => {
    const r = fresh()
    applyFeed(r, 'a', 'started', 1_000, 0)
    applyFeed(r, 'a', 'ended', 5_000, 10)
    expect(r.status).toBe('ending')
    applyFeed(r, 'b', 'started', 6_000, 20)
    expect(r).toMatchObject({ status: 'live', session: `${STREAM}@1000` })
    expect(r.endingSince).toBeUndefined()
  })

  it('an ended before its started: a short publish is still a session', () => {
    const r = fresh()
    applyFeed(r, 'a', 'ended', 2_000, 0)
    expect(r.status).toBe('ended')
    expect(r.session).toBeUndefined()
    applyFeed(r, 'a', 'started', 1_000, 5)
    expect(r).toMatchObject({
      status: 'ending',
      liveSince: 1_000,
      endedAt: 2_000,
      session: `${STREAM}@1000`,
      endingSince: 5,
    })
  })

  it('ignores hooks of a session that is already over', () => {
    const r = fresh()
    applyFeed(r, 'a', 'started', 1_000, 0)
    applyFeed(r, 'a', 'ended', 2_000, 0)
    r.status = 'ended' // the flap window passed
    delete r.feeds.a
    applyFeed(r, 'old', 'started', 500, 0)
    expect(r.status).toBe('ended')
    expect(r.feeds).toEqual({})
    applyFeed(r, 'next', 'started', 9_000, 0)
    expect(r).toMatchObject({ status: 'live', session: `${STREAM}@9000` })
  })
})

describe('the flap window', () => {
  it('ends an ending session once its window passed, not before; keeps the active feeds', () => {
    const r = fresh()
    applyFeed(r, 'a', 'started', 1_000, 0)
    applyFeed(r, 'a', 'ended', 2_000, 100)
    expect(endsAt(r, 500)).toBe(600)
    expect(finishIfDue(r, 599, 500)).toBe(false)
    expect(r.status).toBe('ending')
    expect(finishIfDue(r, 600, 500)).toBe(true)
    expect(r).toMatchObject({ status: 'ended', endedAt: 2_000, feeds: {} })
    expect(r.endingSince).toBeUndefined()
    expect(endsAt(r, 500)).toBeUndefined()
    expect(finishIfDue(r, 10_000, 500)).toBe(false)
  })

  it('a live stream has no window to end', () => {
    const r = fresh()
    applyFeed(r, 'a', 'started', 1_000, 0)
    expect(endsAt(r, 500)).toBeUndefined()
    expect(finishIfDue(r, 1e12, 500)).toBe(false)
    expect(r.status).toBe('live')
  })
})

describe('handing on transitions', () => {
  const session = `${STREAM}@1000`
  const live = () => {
    const r = fresh()
    applyFeed(r, 'a', 'started', 1_000, 0)
    return r
  }

  it('live is due once per session, ended once the session is over', () => {
    const r = live()
    expect(dueTransitions(r)).toEqual(['live'])
    markEmitted(r, 'live', session)
    expect(dueTransitions(r)).toEqual([])
    applyFeed(r, 'a', 'ended', 2_000, 10)
    expect(dueTransitions(r)).toEqual([])
    finishIfDue(r, 1e6, 100)
    expect(dueTransitions(r)).toEqual(['ended'])
    markEmitted(r, 'ended', session)
    expect(dueTransitions(r)).toEqual([])
    expect(dueTransitions(fresh())).toEqual([])
  })

  it('one claimant per transition: another gets nothing until the claim is older than CLAIM_MS', () => {
    const r = live()
    expect(claimTransitions(r, 'delivery-1', 5)).toEqual(['live'])
    expect(r.emitting?.live).toEqual({ session, by: 'delivery-1', at: 5 })
    expect(claimTransitions(r, 'delivery-2', 6)).toEqual([])
    expect(claimTransitions(r, 'delivery-1', 7)).toEqual(['live']) // a redelivery takes up its own claim
    expect(claimTransitions(r, 'delivery-2', 7 + CLAIM_MS - 1)).toEqual([])
    expect(claimTransitions(r, 'delivery-2', 7 + CLAIM_MS)).toEqual(['live'])
    markEmitted(r, 'live', session)
    expect(r.emitting).toBeUndefined()
    expect(claimTransitions(r, 'delivery-3', 8)).toEqual([])
  })

  it('ended is not claimed past a live another holds; its holder carries on with it', () => {
    const r = live()
    claimTransitions(r, 'feed', 1)
    applyFeed(r, 'a', 'ended', 2_000, 10)
    finishIfDue(r, 1e6, 100)
    expect(claimTransitions(r, 'check', 2)).toEqual([])
    expect(claimTransitions(r, 'feed', 3)).toEqual(['live', 'ended'])
    markEmitted(r, 'live', session)
    expect(r.emitting).toMatchObject({ ended: { by: 'feed' } })
    markEmitted(r, 'ended', session)
    expect(r.emitting).toBeUndefined()
  })

  it('marking a session that is over by now changes nothing', () => {
    const r = live()
    claimTransitions(r, 'feed', 1)
    applyFeed(r, 'a', 'ended', 2_000, 10)
    finishIfDue(r, 1e6, 100)
    applyFeed(r, 'b', 'started', 9_000, 20)
    markEmitted(r, 'live', session)
    expect(r.emitted.live).toBeUndefined()
    expect(dueTransitions(r)).toEqual(['live'])
  })
})

describe('thumbnails', () => {
  it('the latest is the newest; the first is the earliest of the session, up to 30 s before it went live', () => {
    const r = fresh()
    takeThumbnail(r, ref('before', 500), {})
    expect(r.latestThumbnail?.eventId).toBe('before')
    expect(r.firstThumbnail).toBeUndefined() // not live: no session to be the first of
    applyFeed(r, 'a', 'started', 20_000, 0)
    expect(r.firstThumbnail?.eventId).toBe('before') // within 30 s of going live
    takeThumbnail(r, ref('later', 40_000), {})
    takeThumbnail(r, ref('older', 10_000), { streamName: 'show' })
    expect(r.latestThumbnail?.eventId).toBe('later')
    expect(r.firstThumbnail?.eventId).toBe('before')
    expect(r.streamName).toBe('show')
  })
})
