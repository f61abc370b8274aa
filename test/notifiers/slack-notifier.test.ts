/**
 * The Slack notifier in bot mode, in process, against the local Slack stand-in: what a hostile signed stream name
 * becomes in everything posted (message, fallback text, uploaded file's name).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSlackNotifier } from '../../src/notifiers/slack.ts'
import { slackNotifierConfig } from '../../src/config/slack-notifier.ts'
import type { StreamRecord } from '../../src/streams/stream-types.ts'
import type { StreamStore } from '../../src/streams/stream-store.ts'
import { silentLogger } from '../../src/log.ts'
import { BOT_TOKEN, CHANNEL, startSlack, type SlackStandIn } from '../support/slack.ts'
import { makeEvent } from '../support/events.ts'
import { jpeg } from '../support/hooks.ts'

const HOSTILE = '<!channel> <@U0ADMIN> <https://evil.example|https://dolby.io> ../../x'
const STREAM = `ZG6NWV/${HOSTILE}`
let slack: SlackStandIn

beforeAll(async () => {
  slack = await startSlack()
})
afterAll(async () => {
  await slack.close()
})

/** One stream, live, with its first thumbnail: all the notifier reads. `failingPuts` writes fail first (NATS away). */
function oneStream(failingPuts = 0): StreamStore {
  const thumb = makeEvent({ id: 't1', streamId: STREAM, streamName: HOSTILE })
  const { body: _body, data: _data, ...event } = thumb
  const record: StreamRecord = {
    streamId: STREAM,
    streamName: HOSTILE,
    status: 'live',
    session: 's1',
    liveSince: 1,
    feeds: { f: { started: 1 } },
    firstThumbnail: { eventId: 't1', timestamp: 1, event },
    alerts: {},
    emitted: {},
    updatedAt: 1,
  }
  let revision = 1
  return {
    get: async (id) => (id === STREAM ? { record: structuredClone(record), revision: String(revision) } : undefined),
    async put(_id, next) {
      if (failingPuts-- > 0) throw new Error('timeout')
      Object.assign(record, next)
      return String(++revision)
    },
    list: async () => [record],
    delete: async () => false,
    putThumbnail: async () => true,
    thumbnail: async () => jpeg('hostile', 2_000),
    async close() {},
  }
}

/** The stream's `live` event, naming its first thumbnail. */
const liveEvent = () =>
  makeEvent({
    type: 'stream',
    event: 'live',
    streamId: STREAM,
    streamName: HOSTILE,
    receivedAt: Date.now(),
    data: { session: 's1', liveSince: 1, thumbnail: { eventId: 't1', timestamp: 1 } },
  })

describe('Slack notifier with a hostile stream name', () => {
  it('posts no mention, ping or link, and names the uploaded file safely', async () => {
    const notifier = createSlackNotifier(
      'slack',
      slackNotifierConfig.parse({
        type: 'slack',
        token: BOT_TOKEN,
        channel: CHANNEL,
        apiUrl: slack.apiUrl,
        minInterval: '0ms',
      }),
      {
        streams: oneStream(),
        destination: () => undefined,
        thumbnailUrl: async () => '',
        log: silentLogger,
        now: Date.now,
      },
    )
    await notifier.deliver(liveEvent())
    const posted = JSON.stringify(slack.messages)
    expect(slack.messages).toHaveLength(1)
    for (const bad of ['<!channel>', '<@U0ADMIN>', '<https://evil']) expect(posted).not.toContain(bad)
    expect(posted).toContain('&lt;!channel&gt;')
    const reserve = slack.receiver.requests.find((r) => r.path === '/api/files.getUploadURLExternal')!
    const filename = new URLSearchParams(reserve.body.toString()).get('filename')!
    expect(filename).toMatch(/^[A-Za-z0-9._-]+-live\.jpg$/)
    expect(filename).not.toContain('..')
  })
})

describe('Slack notifier when the stream state fails for a moment', () => {
  it('keeps what it posted once the state is back, so the delivery succeeds and is not posted again', async () => {
    const streams = oneStream(2)
    const before = slack.messages.length
    const notifier = createSlackNotifier(
      'slack',
      slackNotifierConfig.parse({ type: 'slack', token: BOT_TOKEN, channel: CHANNEL, apiUrl: slack.apiUrl }),
      { streams, destination: () => undefined, thumbnailUrl: async () => '', log: silentLogger, now: Date.now },
    )
    await notifier.deliver(liveEvent())
    expect(slack.messages.length - before).toBe(1)
    const kept = (await streams.get(STREAM))!.record.alerts.slack?.s1
    expect(kept).toMatchObject({ liveFile: expect.any(String), live: expect.any(String) })
  })
})
