/**
 * Which listed deliveries a claim of the S3 queue tries to take, in what order, and when it looks again: the rules
 * that decide due and not due, without a bucket.
 */
import { describe, expect, it } from 'vitest'
import { dueFirst } from '../../../src/backends/s3/claims.ts'
import type { DeliveryState } from '../../../src/backends/s3/delivery-objects.ts'

const NOW = 1_000_000

function candidate(eventId: string, fields: Partial<DeliveryState> = {}) {
  const state: DeliveryState = {
    v: 1,
    eventId,
    destination: 'd',
    copy: 'c',
    group: ['d'],
    receivedAt: NOW - 10_000,
    since: NOW - 10_000,
    attempts: [],
    nextAt: 0,
    rev: 'r',
    ...fields,
  }
  return { key: `deliveries/d/${eventId}`, etag: `"${eventId}"`, state }
}

const ids = (result: ReturnType<typeof dueFirst>) => result.due.map((c) => c.state.eventId)

describe('dueFirst', () => {
  it('takes the deliveries whose next try has come, the earliest next try first, then the earliest received', () => {
    const result = dueFirst(
      [
        candidate('late', { nextAt: NOW - 1 }),
        candidate('new', { nextAt: 0, receivedAt: NOW - 5 }),
        candidate('old', { nextAt: 0, receivedAt: NOW - 50 }),
        candidate('now', { nextAt: NOW }),
      ],
      NOW,
    )
    expect(ids(result)).toEqual(['old', 'new', 'late', 'now'])
    expect(result.wakeAt).toBe(Infinity)
  })

  it('leaves a delivery whose lease still runs, and wakes when the first lease or next try comes', () => {
    const result = dueFirst(
      [
        candidate('held', { lease: { token: 't', until: NOW + 300 } }),
        candidate('expired', { lease: { token: 't', until: NOW - 1 } }),
        candidate('later', { nextAt: NOW + 200 }),
        candidate('held-later', { nextAt: NOW + 100, lease: { token: 't', until: NOW + 400 } }),
      ],
      NOW,
    )
    expect(ids(result)).toEqual(['expired'])
    expect(result.wakeAt).toBe(NOW + 200)
  })

  it('skips deliveries that were gone or unreadable', () => {
    const result = dueFirst([undefined, candidate('a'), undefined], NOW)
    expect(ids(result)).toEqual(['a'])
    expect(dueFirst([undefined], NOW)).toEqual({ due: [], wakeAt: Infinity })
  })
})
