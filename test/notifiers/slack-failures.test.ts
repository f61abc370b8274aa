/**
 * Slack's error strings are looked up in hookcast's table of fixes by the table's own keys only: an answer such as
 * `constructor` or `toString` (names every JavaScript object inherits) is an unknown error, not a fix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sendToSlack, slackError } from '../../src/notifiers/slack-failures.ts'
import { startReceiver, type Receiver } from '../support/receiver.ts'

let receiver: Receiver
beforeAll(async () => {
  receiver = await startReceiver()
})
afterAll(async () => {
  await receiver.close()
})

const INHERITED = ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf']

describe('Slack error strings that name inherited object members', () => {
  it.each(INHERITED)('ok:false %s is an unknown error (permanent, no fix)', (error) => {
    const failure = slackError('slack chat.postMessage', error, null)
    expect(failure.message).toBe(`slack chat.postMessage: ${error}`)
    expect(failure).toMatchObject({ permanent: true })
  })

  it.each(INHERITED)('an incoming webhook answering %s shows it as it is', async (body) => {
    receiver.answer = () => ({ status: 400, body, headers: { 'content-type': 'text/plain' } })
    const failure = await sendToSlack(`${receiver.url}/services/x`, { method: 'POST', body: '{}' }, 'slack').then(
      () => undefined,
      (error: unknown) => error,
    )
    expect((failure as Error).message).toBe(`slack answered 400 (${body})`)
    expect(failure).toMatchObject({ permanent: true })
    receiver.answer = () => ({})
  })

  it('still gives the fix for a known error', () => {
    expect(slackError('slack chat.postMessage', 'not_in_channel', null).message).toContain('invite it')
  })
})
