/**
 * The Slack notifier's health replies, in process against the Slack stand-in and a stream store: a redelivered
 * health event posts nothing twice, a late one after the end leaves the ended message alone, and webhook mode
 * posts the problem with hookcast's signed link to the picture the event names.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createSlackNotifier } from '../../src/notifiers/slack.ts'
import { slackNotifierConfig } from '../../src/config/slack-notifier.ts'
import { memoryStreamStore } from '../../src/streams/memory-stream-store.ts'
import { freshRecord } from '../../src/streams/stream-record.ts'
import type { StreamStore } from '../../src/streams/stream-store.ts'
import type { HookEvent } from '../../src/events/types.ts'
import { silentLogger } from '../../src/log.ts'
import { BOT_TOKEN, CHANNEL, blockText, startSlack, type SlackStandIn } from '../support/slack.ts'
import { makeEvent } from '../support/events.ts'
import { jpeg } from '../support/hooks.ts'
import { eventually } from '../support/wait.ts'
import { DeliveryDeferred } from '../../src/destinations/types.ts'

const STREAM = 'ZG6NWV/lobby'
const PICTURE = jpeg('black picture', 3_000)
let slack: SlackStandIn
let store: StreamStore

beforeAll(async () => {
  slack = await startSlack()
})
afterAll(async () => {
  await slack.close()
})
beforeEach(async () => {
  slack.messages.length = 0
  store = memoryStreamStore()
  const thumb = makeEvent({ id: 'th1', streamId: STREAM })
  const { body: _body, data: _data, ...event } = thumb
  const ref = { eventId: 'th1', timestamp: 5, event }
  expect(await store.putThumbnail(ref, PICTURE)).toBe(true)
  const record = freshRecord(STREAM, 1)
  Object.assign(record, { status: 'live', session: 's1', liveSince: 1, latestThumbnail: ref })
  expect(await store.put(STREAM, record, null)).not.toBe('conflict')
})

const streamEvent = (event: string, data: Record<string, unknown>, id = event): HookEvent =>
  makeEvent({
    id,
    source: 'hookcast',
    type: 'stream',
    event,
    streamId: STREAM,
    receivedAt: Date.now(),
    contentType: 'application/json',
    data: { session: 's1', streamId: STREAM, ...data },
  })
const black = streamEvent('black', {
  problem: 'black',
  since: 5,
  measurements: { meanLuma: 7.6, darkFraction: 0.99 },
  thumbnail: { eventId: 'th1', timestamp: 5 },
})

function notifier(config: Record<string, unknown>) {
  return createSlackNotifier('slack', slackNotifierConfig.parse({ type: 'slack', minInterval: '0ms', ...config }), {
    streams: store,
    destination: () => undefined,
    thumbnailUrl: async (publicUrl, ref) => `${publicUrl}/thumbnails/${ref.event.streamId}/${ref.eventId}.jpg`,
    log: silentLogger,
    now: Date.now,
  })
}

describe('Slack health replies', () => {
  it('bot mode: one reply with the picture however often the event is delivered; none updates an ended message', async () => {
    const bot = notifier({ token: BOT_TOKEN, channel: CHANNEL, apiUrl: slack.apiUrl })
    await bot.deliver(streamEvent('live', { liveSince: 1, thumbnail: { eventId: 'th1', timestamp: 5 } }))
    const live = slack.messages[0]!
    await bot.deliver(black)
    await bot.deliver(black) // a redelivery
    const replies = slack.messages.filter((m) => m.threadTs === live.ts)
    expect(replies).toHaveLength(1)
    expect(Buffer.from(replies[0]!.file!).equals(Buffer.from(PICTURE))).toBe(true)
    expect(blockText(replies[0]!)).toContain('Mean brightness 8 of 255; 99 % of the picture dark.')
    expect(slack.messages.filter((m) => m.via === 'chat.update')).toHaveLength(1)

    await bot.deliver(streamEvent('ended', { endedBy: 'silence', endedAt: 60_000, liveSince: 1 }))
    const updates = () => slack.messages.filter((m) => m.via === 'chat.update')
    expect(blockText(updates().at(-1)!)).toContain('ended after')
    const late = streamEvent('recovered', { problem: 'black', durationMs: 60_000, since: 5 }, 'late')
    await bot.deliver(late)
    expect(blockText(updates().at(-1)!)).toContain('ended after') // the end stays the last word
    expect(slack.messages.at(-1)!.threadTs).toBe(live.ts)
    expect(blockText(slack.messages.at(-1)!)).toContain('picture recovered after 60 s')
  })

  it('bot mode: a problem while Slack has not said where the uploaded live message is waits, then replies in its thread', async () => {
    const bot = notifier({ token: BOT_TOKEN, channel: CHANNEL, apiUrl: slack.apiUrl })
    // files.info (where the upload was shared: the live message's ts) answers only when the test lets it.
    const answer = slack.receiver.answer
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    slack.receiver.answer = async (request) => {
      if (request.path === '/api/files.info') await held
      return answer(request)
    }
    try {
      const posting = bot.deliver(streamEvent('live', { liveSince: 1, thumbnail: { eventId: 'th1', timestamp: 5 } }))
      await eventually(() => slack.messages.some((m) => m.via === 'upload'))
      await expect(bot.deliver(black)).rejects.toBeInstanceOf(DeliveryDeferred)
      await expect(bot.deliver(streamEvent('ended', { endedAt: 60_000, liveSince: 1 }))).rejects.toBeInstanceOf(
        DeliveryDeferred,
      )
      release()
      await posting
    } finally {
      slack.receiver.answer = answer
    }
    await bot.deliver(black)
    const live = slack.messages.find((m) => m.via === 'upload')!
    expect(slack.messages.filter((m) => m.threadTs === live.ts).map((m) => blockText(m))).toEqual([
      expect.stringContaining('black picture'),
    ])
  })

  it('bot mode: a live delivery that failed after its upload, before Slack said where it went, is finished by its redelivery', async () => {
    const bot = notifier({ token: BOT_TOKEN, channel: CHANNEL, apiUrl: slack.apiUrl })
    const live = streamEvent('live', { liveSince: 1, thumbnail: { eventId: 'th1', timestamp: 5 } })
    // As a crash there would: the upload is made and remembered, and the question of where it went fails.
    slack.failures['files.info'] = [{ body: JSON.stringify({ ok: false, error: 'internal_error' }) }]
    await expect(bot.deliver(live)).rejects.toThrow(/internal_error/)
    expect((await store.get(STREAM))!.record.alerts.slack?.s1).toEqual({ liveFile: expect.any(String) })
    await bot.deliver(live) // the redelivery
    const uploads = slack.messages.filter((m) => m.via === 'upload')
    expect(uploads).toHaveLength(1) // not uploaded again
    await bot.deliver(black) // at once: the live message's ts is known
    expect(slack.messages.filter((m) => m.threadTs === uploads[0]!.ts).map((m) => blockText(m))).toEqual([
      expect.stringContaining('black picture'),
    ])
  })

  it('webhook mode: the problem as its own message, with the signed link to its picture', async () => {
    const hook = notifier({ webhookUrl: slack.webhookUrl, image: { publicUrl: 'https://hooks.example.com' } })
    await hook.deliver(black)
    expect(slack.messages).toHaveLength(1)
    const [message] = slack.messages
    expect(message!.text).toBe(':warning: lobby: black picture')
    const image = message!.blocks.find((b) => b.type === 'image')
    expect(image?.image_url).toBe(`https://hooks.example.com/thumbnails/${STREAM}/th1.jpg`)
  })
})
