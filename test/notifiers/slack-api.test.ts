import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSlackWebApi } from '../../src/notifiers/slack-api.ts'
import { postIncomingWebhook } from '../../src/notifiers/slack-webhook.ts'
import { parseConfig } from '../../src/config/load.ts'
import type { ConfigError } from '../../src/config/load.ts'
import { startReceiver, type Receiver } from '../support/receiver.ts'
import { SECRET } from '../support/hooks.ts'

let receiver: Receiver
beforeAll(async () => {
  receiver = await startReceiver()
})
afterAll(async () => {
  await receiver.close()
})

describe('Slack failures, classified for the spool', () => {
  const api = () => createSlackWebApi(`${receiver.url}/api`, 'xoxb-token', 'slack')
  const failureOf = (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (error: unknown) => error,
    )

  it.each([
    ['invalid_auth', true, 'the bot token is not valid'],
    ['channel_not_found', true, 'use the channel id'],
    ['not_in_channel', true, 'invite it'],
    ['ratelimited', false, undefined],
    ['internal_error', false, undefined],
  ])('ok:false %s is permanent: %s', async (error, permanent, fix) => {
    const headers: Record<string, string> = error === 'ratelimited' ? { 'retry-after': '3' } : {}
    receiver.answer = () => ({ body: JSON.stringify({ ok: false, error }), headers })
    const failure = await failureOf(api().call('chat.postMessage', { channel: 'C1', text: 'x' }))
    expect(failure).toMatchObject({ permanent, ...(error === 'ratelimited' ? { retryAfterMs: 3_000 } : {}) })
    if (fix) expect((failure as Error).message).toContain(fix)
  })

  it('HTTP 429 and 5xx retry; the token goes in the Authorization header, never in a message', async () => {
    receiver.answer = () => ({ status: 429, headers: { 'retry-after': '7' } })
    expect(await failureOf(api().call('chat.postMessage', {}))).toMatchObject({ permanent: false, retryAfterMs: 7_000 })
    receiver.answer = () => ({ status: 502 })
    const failure = await failureOf(api().call('chat.postMessage', {}))
    expect(failure).toMatchObject({ permanent: false })
    expect((failure as Error).message).not.toContain('xoxb-token')
    expect(receiver.requests.at(-1)!.headers.authorization).toBe('Bearer xoxb-token')
  })

  it('incoming webhook errors come as statuses with a text body', async () => {
    receiver.answer = () => ({ status: 404, body: 'no_service', headers: { 'content-type': 'text/plain' } })
    const failure = await failureOf(postIncomingWebhook(`${receiver.url}/services/x`, { text: 'hi' }, 'slack'))
    expect(failure).toMatchObject({ permanent: true })
    expect((failure as Error).message).toContain('create a new one')
    receiver.answer = () => ({ status: 500, body: 'oops' })
    expect(await failureOf(postIncomingWebhook(`${receiver.url}/services/x`, { text: 'hi' }, 'slack'))).toMatchObject({
      permanent: false,
    })
    receiver.answer = () => ({})
  })
})

describe('Slack notifier config', () => {
  const problems = (notifier: string, sinks = '') => {
    try {
      parseConfig(
        `
sources: { m: { path: /h, secrets: ["${SECRET}"] } }
sinks: { disk: { type: fs, dir: ./d } ${sinks} }
notifiers: { slack: ${notifier} }
`,
        {},
      )
      return []
    } catch (error) {
      return (error as ConfigError).problems
    }
  }

  it('says when webhook mode has no way to make an image URL', () => {
    expect(problems('{ type: slack, webhookUrl: "https://hooks.slack.com/services/x" }')).toEqual([
      expect.stringMatching(/^notifiers\.slack\.image: webhook mode has no way to show thumbnails/),
    ])
    expect(
      problems('{ type: slack, webhookUrl: "https://hooks.slack.com/services/x", image: { sink: disk } }'),
    ).toEqual([
      'notifiers.slack.image.sink: sink "disk" (fs) cannot make public image URLs; use an s3 or gcs sink, or image: { publicUrl }',
    ])
    expect(problems('{ type: slack, webhookUrl: "https://hooks.slack.com/services/x", image: false }')).toEqual([])
    expect(
      problems(
        '{ type: slack, webhookUrl: "https://hooks.slack.com/services/x", image: { publicUrl: "https://hooks.example.com" } }',
      ),
    ).toEqual([])
  })

  it('wants exactly one mode', () => {
    expect(problems('{ type: slack }')).toEqual([
      'notifiers.slack: set webhookUrl (incoming webhook mode), or token and channel (bot mode)',
    ])
    expect(problems('{ type: slack, token: t }')).toEqual([
      'notifiers.slack: set webhookUrl (incoming webhook mode), or token and channel (bot mode)',
    ])
    expect(problems('{ type: slack, token: t, channel: C1, webhookUrl: "https://x/y", image: false }')[0]).toContain(
      'not both',
    )
  })
})
