/**
 * The stored delivery state of the shared backends (src/queue/delivery-state.ts), through each backend's codec: a
 * NATS delivery message and an S3 delivery object, as earlier versions wrote them, read back and write the same
 * bytes again; anything else is refused.
 */
import { describe, expect, it } from 'vitest'
import * as nats from '../../src/backends/nats/messages.ts'
import * as s3 from '../../src/backends/s3/delivery-objects.ts'

const bytes = (text: string) => new TextEncoder().encode(text)
const text = (data: Uint8Array) => new TextDecoder().decode(data)

const NATS_MESSAGE =
  '{"eventId":"ev-1","destination":"disk","eventSeq":42,"group":["disk","slack"],"receivedAt":1700000000000,' +
  '"since":1700000000000,"attempts":[{"at":1700000001000,"error":"HTTP 503 – retry"}],"nextAt":1700000061000}'
const S3_OBJECT =
  '{"v":1,"eventId":"ev-1","destination":"disk","copy":"0lohj5z8g-0123456789ab","group":["disk"],' +
  '"receivedAt":1700000000000,"since":1700000000000,"attempts":[],"nextAt":0,' +
  '"lease":{"token":"t-1","until":1700000030000},"rev":"fedcba9876543210"}'

describe('stored delivery state', () => {
  it('reads a NATS delivery message back and writes the same bytes', () => {
    const record = nats.decodeDelivery(bytes(NATS_MESSAGE))
    expect(record).toEqual({
      eventId: 'ev-1',
      destination: 'disk',
      eventSeq: 42,
      group: ['disk', 'slack'],
      receivedAt: 1700000000000,
      since: 1700000000000,
      attempts: [{ at: 1700000001000, error: 'HTTP 503 – retry' }],
      nextAt: 1700000061000,
    })
    expect(text(nats.encodeDelivery(record!))).toBe(NATS_MESSAGE)
  })

  it('reads an S3 delivery object back and writes the same bytes', () => {
    const state = s3.decodeDelivery(bytes(S3_OBJECT))
    expect(state).toMatchObject({ v: 1, copy: '0lohj5z8g-0123456789ab', lease: { token: 't-1', until: 1700000030000 } })
    expect(text(s3.encodeDelivery(state!))).toBe(S3_OBJECT)
    const { lease: _lease, ...unleased } = JSON.parse(S3_OBJECT)
    expect(s3.decodeDelivery(bytes(JSON.stringify(unleased)))).toEqual(unleased)
  })

  it.each([
    ['not JSON', '{"eventId":'],
    ['null', 'null'],
    ['a number', '7'],
    ['no destination', NATS_MESSAGE.replace('"destination":"disk",', '')],
    ['no group', NATS_MESSAGE.replace('"group":["disk","slack"],', '')],
    ['attempts not a list', NATS_MESSAGE.replace(/"attempts":\[.*?\]\]?/, '"attempts":3')],
    ['a string nextAt', NATS_MESSAGE.replace('"nextAt":1700000061000', '"nextAt":"soon"')],
    ['no since', NATS_MESSAGE.replace('"since":1700000000000,', '')],
    ['no receivedAt', NATS_MESSAGE.replace('"receivedAt":1700000000000,', '')],
    ['a fractional eventSeq', NATS_MESSAGE.replace('"eventSeq":42', '"eventSeq":4.2')],
  ])('refuses a NATS delivery message with %s', (_, message) => {
    expect(nats.decodeDelivery(bytes(message))).toBeUndefined()
  })

  it.each([
    ['another version', S3_OBJECT.replace('"v":1', '"v":2')],
    ['no copy', S3_OBJECT.replace('"copy":"0lohj5z8g-0123456789ab",', '')],
    ['a lease without a token', S3_OBJECT.replace('"token":"t-1",', '')],
    ['a lease with a string until', S3_OBJECT.replace('"until":1700000030000', '"until":"later"')],
    ['no eventId', S3_OBJECT.replace('"eventId":"ev-1",', '')],
  ])('refuses an S3 delivery object with %s', (_, object) => {
    expect(s3.decodeDelivery(bytes(object))).toBeUndefined()
  })
})
