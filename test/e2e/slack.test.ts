/**
 * Stream alerts end to end: the real gateway, a local stand-in for Slack, and a real stream's hooks (two feeds,
 * thumbnails, out-of-order start/end, a flap, a start with no thumbnail, a recording) in both Slack modes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startServer, type Runtime, type RunningServer } from '../support/runtimes.ts'
import { blockText, BOT_TOKEN, CHANNEL, startSlack, type SlackMessage, type SlackStandIn } from '../support/slack.ts'
import { jpeg, post, signedJson, signedThumbnail, SECRET } from '../support/hooks.ts'
import { tempDir } from '../support/files.ts'
import { eventually, sleep } from '../support/wait.ts'
import { freePort } from '../support/ports.ts'
import { forgedLink } from '../support/forged-link.ts'

const ENV = { MILLICAST_WEBHOOK_SECRET: SECRET, SLACK_TOKEN: BOT_TOKEN }

function feed(event: 'started' | 'ended', stream: string, feedId: string, at: number) {
  return signedJson({
    type: 'feeds',
    event,
    timestamp: at + 3,
    data: {
      feedId,
      accountId: 'ZG6NWV',
      name: stream,
      streamId: `ZG6NWV/${stream}`,
      active: event === 'started',
      [event]: at,
    },
  })
}

function recording(stream: string, at: number) {
  return signedJson({
    type: 'recordings',
    event: 'completed',
    timestamp: at,
    data: {
      recordFileId: 7975,
      tokenId: 142366,
      streamName: stream,
      recordedOn: at - 60_000,
      metadata: { format: 'MPEG-4', duration: 60 },
    },
  })
}

function writeConfig(dir: string, notifier: string): string {
  const path = join(dir, 'config.yaml')
  writeFileSync(
    path,
    `
sources:
  millicast: { path: /hooks/millicast, secrets: ["\${MILLICAST_WEBHOOK_SECRET}"] }
notifiers:
  slack: ${notifier}
spool: { dir: "${join(dir, 'spool')}" }
streams: { flapWindow: 1s, thumbnailWait: 10s }
delivery:
  retry: { schedule: [200ms, 400ms], jitter: 0 }
routes:
  - when: { type: [stream, recordings, media] }
    to: [slack]
`,
  )
  return path
}

const about = (messages: SlackMessage[], stream: string) => messages.filter((m) => blockText(m).includes(stream))

describe.each<Runtime>(['node', 'bun'])('Slack bot mode on %s', (runtime) => {
  let slack: SlackStandIn
  let server: RunningServer
  const tmp = tempDir(`hookcast-slack-bot-${runtime}-`)
  let hookUrl: string

  beforeAll(async () => {
    slack = await startSlack()
    const config = writeConfig(
      tmp.path,
      `{ type: slack, token: "\${SLACK_TOKEN}", channel: ${CHANNEL}, apiUrl: "${slack.apiUrl}", minInterval: 200ms }`,
    )
    server = await startServer(runtime, config, ENV)
    hookUrl = `${server.url}/hooks/millicast`
  }, 40_000)
  afterAll(async () => {
    await server?.stop()
    await slack.close()
    tmp.remove()
  })

  it('posts one live message with the first thumbnail, threads the recording, and ends with an update and the last thumbnail', async () => {
    const t0 = Date.now()
    const first = await signedThumbnail({
      body: jpeg(`${runtime}-alpha-1`, 40_000),
      streamId: 'ZG6NWV/alpha',
      timestamp: t0 + 1_000,
    })
    const last = await signedThumbnail({
      body: jpeg(`${runtime}-alpha-2`, 40_000),
      streamId: 'ZG6NWV/alpha',
      timestamp: t0 + 31_000,
    })
    const middle = await signedThumbnail({
      body: jpeg(`${runtime}-alpha-3`, 40_000),
      streamId: 'ZG6NWV/alpha',
      timestamp: t0 + 16_000,
    })
    for (const hook of [
      await feed('started', 'alpha', 'feed-a', t0),
      await feed('started', 'alpha', 'feed-b', t0 + 50),
    ]) {
      expect((await post(hookUrl, hook)).status).toBe(200)
    }
    await sleep(300)
    // `live` goes out once a thumbnail is in: with the first alone in, it carries the first.
    expect((await post(hookUrl, first)).status).toBe(200)
    const live = await eventually(() => about(slack.messages, 'ZG6NWV/alpha')[0])
    expect(live.via).toBe('upload')
    expect(live.threadTs).toBeUndefined()
    expect(live.file!.equals(Buffer.from(first.body))).toBe(true)
    expect(blockText(live)).toContain('*Feeds*\\n2')
    expect(blockText(live)).toContain('alpha* is live')
    // Out of order: the latest thumbnail by its timestamp arrives before an earlier one; the end shows the latest.
    expect((await post(hookUrl, last)).status).toBe(200)
    expect((await post(hookUrl, middle)).status).toBe(200)

    expect((await post(hookUrl, await recording('alpha', t0 + 60_000))).status).toBe(200)
    const thread = await eventually(() => slack.messages.find((m) => blockText(m).includes('recordings completed')))
    expect(thread).toMatchObject({ via: 'chat.postMessage', threadTs: live.ts })

    await post(hookUrl, await feed('ended', 'alpha', 'feed-b', t0 + 90_000))
    await post(hookUrl, await feed('ended', 'alpha', 'feed-a', t0 + 95_000))
    await eventually(() => about(slack.messages, 'ZG6NWV/alpha').length === 3, 10_000)
    const [, update, reply] = about(slack.messages, 'ZG6NWV/alpha')
    expect(update).toMatchObject({ via: 'chat.update', ts: live.ts })
    expect(blockText(update!)).toContain('ended after 1m 35s')
    expect(reply).toMatchObject({ via: 'upload', threadTs: live.ts })
    expect(reply!.file!.equals(Buffer.from(last.body))).toBe(true)
  }, 30_000)

  it('a start with no thumbnail posts after the wait and says so; out-of-order hooks still make one session; 429 is honoured', async () => {
    const t0 = Date.now()
    slack.failures['chat.postMessage'] = [{ status: 429, headers: { 'retry-after': '1' } }]
    const before = slack.receiver.requests.length
    await post(hookUrl, await feed('ended', 'bravo', 'feed-x', t0 + 2_000)) // the end arrives first
    await post(hookUrl, await feed('started', 'bravo', 'feed-x', t0))
    await eventually(() => about(slack.messages, 'ZG6NWV/bravo').length === 3, 15_000)
    const [live, update, reply] = about(slack.messages, 'ZG6NWV/bravo')
    expect(live).toMatchObject({ via: 'chat.postMessage' })
    expect(blockText(live!)).toContain('No thumbnail arrived in time')
    expect(update).toMatchObject({ via: 'chat.update', ts: live!.ts })
    expect(blockText(update!)).toContain('ended after 2s')
    expect(reply).toMatchObject({ via: 'chat.postMessage', threadTs: live!.ts })
    const posts = slack.receiver.requests.slice(before).filter((r) => r.path === '/api/chat.postMessage')
    expect(posts.length).toBeGreaterThanOrEqual(2)
    expect(posts[1]!.at - posts[0]!.at).toBeGreaterThanOrEqual(1_000) // Retry-After: 1
  }, 30_000)

  it('a flap gives neither an ended nor a second live', async () => {
    const t0 = Date.now()
    await post(hookUrl, await feed('started', 'charlie', 'c1', t0))
    await post(
      hookUrl,
      await signedThumbnail({ body: jpeg(`${runtime}-charlie`), streamId: 'ZG6NWV/charlie', timestamp: t0 + 500 }),
    )
    // The live message first: a feed that ends before the tracker has the thumbnail hands `live` on without it.
    await eventually(() => about(slack.messages, 'ZG6NWV/charlie').length === 1)
    await post(hookUrl, await feed('ended', 'charlie', 'c1', t0 + 5_000))
    await post(hookUrl, await feed('started', 'charlie', 'c2', t0 + 5_400))
    await eventually(() => about(slack.messages, 'ZG6NWV/charlie').length === 1)
    await sleep(2_000) // past the 1 s flap window
    expect(about(slack.messages, 'ZG6NWV/charlie').map((m) => m.via)).toEqual(['upload'])
  }, 30_000)

  it('keeps at least the configured interval between messages to the channel', async () => {
    // A burst of its own: recordings of a stream that never went live, each a message due at once.
    const stream = `pace-${runtime}`
    const count = 6
    const mine = () => slack.messages.filter((m) => blockText(m).includes(`*${stream}*`))
    // hookcast paces from no earlier than this: the k-th message (from 0) cannot be sent before `from + k × 200 ms`,
    // and arrives after it is sent. Load only makes it later (each step may come 1 ms early: timers round).
    const from = Date.now()
    const t0 = Date.now()
    await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        expect((await post(hookUrl, await recording(stream, t0 + i))).status).toBe(200)
      }),
    )
    await eventually(() => mine().length === count)
    const times = mine()
      .map((m) => m.at)
      .sort((a, b) => a - b)
    for (const [k, at] of times.entries()) expect(at, `message ${k}`).toBeGreaterThanOrEqual(from + k * 200 - 2)
  })
})

describe('Slack incoming webhook mode (node)', () => {
  let slack: SlackStandIn
  let server: RunningServer
  const tmp = tempDir('hookcast-slack-webhook-')

  beforeAll(async () => {
    slack = await startSlack()
    const port = await freePort()
    const config = writeConfig(
      tmp.path,
      `{ type: slack, webhookUrl: "${slack.webhookUrl}", minInterval: 100ms, image: { publicUrl: "http://127.0.0.1:${port}" } }`,
    )
    server = await startServer('node', config, { ...ENV, PORT: String(port) })
  }, 40_000)
  afterAll(async () => {
    await server?.stop()
    await slack.close()
    tmp.remove()
  })

  it('posts live, recording and ended messages whose image links serve the exact thumbnails', async () => {
    const hookUrl = `${server.url}/hooks/millicast`
    const t0 = Date.now()
    const first = await signedThumbnail({
      body: jpeg('delta-1', 30_000),
      streamId: 'ZG6NWV/delta',
      timestamp: t0 + 800,
    })
    const last = await signedThumbnail({
      body: jpeg('delta-2', 30_000),
      streamId: 'ZG6NWV/delta',
      timestamp: t0 + 30_800,
    })
    await post(hookUrl, await feed('started', 'delta', 'd1', t0))
    await post(hookUrl, first)
    const live = await eventually(() => slack.messages[0])
    await post(hookUrl, last)
    await post(hookUrl, await recording('delta', t0 + 40_000))
    await post(hookUrl, await feed('ended', 'delta', 'd1', t0 + 45_000))
    await eventually(() => slack.messages.length === 3, 10_000)
    const [, media, ended] = slack.messages
    expect(slack.messages.every((m) => m.via === 'webhook')).toBe(true)
    expect(blockText(live)).toContain('delta* is live')
    expect(blockText(media!)).toContain('recordings completed')
    expect(blockText(ended!)).toContain('ended after 45s')

    const imageOf = (m: SlackMessage) => String(m.blocks.find((b) => b.type === 'image')?.image_url)
    const liveImage = await fetch(imageOf(live))
    expect(liveImage.headers.get('content-type')).toBe('image/jpeg')
    expect(Buffer.from(await liveImage.arrayBuffer()).equals(Buffer.from(first.body))).toBe(true)
    expect(Buffer.from(await (await fetch(imageOf(ended!))).arrayBuffer()).equals(Buffer.from(last.body))).toBe(true)

    const forged = forgedLink(imageOf(ended!))
    expect((await fetch(forged)).status).toBe(403)
  }, 30_000)
})
