/**
 * Stream health where operators look, end to end on the real gateway (Node) with real JPEG sequences: the Slack
 * stand-in sees the live message with its first thumbnail, one thread reply per problem and per recovery carrying
 * the picture the event names, and the live message updated with the health; an HTTP notifier routed
 * `type: stream` health events gets the same events; /metrics counts them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startServer, type RunningServer } from '../support/runtimes.ts'
import { blockText, BOT_TOKEN, CHANNEL, startSlack, type SlackMessage, type SlackStandIn } from '../support/slack.ts'
import { startReceiver, type Receiver } from '../support/receiver.ts'
import { post, SECRET, signedJson, signedThumbnail } from '../support/hooks.ts'
import { pictureFixtures, type PictureFixtures } from '../support/pictures.ts'
import { tempDir } from '../support/files.ts'
import { eventually } from '../support/wait.ts'

const ENV = { MILLICAST_WEBHOOK_SECRET: SECRET, SLACK_TOKEN: BOT_TOKEN }
const STREAM = 'ZG6NWV/health'

function feed(event: 'started' | 'ended', at: number) {
  return signedJson({
    type: 'feeds',
    event,
    timestamp: at + 3,
    data: {
      feedId: 'h1',
      accountId: 'ZG6NWV',
      name: 'health',
      streamId: STREAM,
      active: event === 'started',
      [event]: at,
    },
  })
}

interface StreamEvent {
  event: string
  data: { thumbnail?: { eventId: string }; problem?: string; session: string }
}

describe('stream health alerts (node)', () => {
  let slack: SlackStandIn
  let hooks: Receiver
  let server: RunningServer
  let pictures: PictureFixtures
  const tmp = tempDir('hookcast-slack-health-')

  beforeAll(async () => {
    slack = await startSlack()
    hooks = await startReceiver()
    pictures = await pictureFixtures()
    const path = join(tmp.path, 'config.yaml')
    writeFileSync(
      path,
      `
sources:
  millicast: { path: /hooks/millicast, secrets: ["\${MILLICAST_WEBHOOK_SECRET}"] }
notifiers:
  slack: { type: slack, token: "\${SLACK_TOKEN}", channel: ${CHANNEL}, apiUrl: "${slack.apiUrl}", minInterval: 50ms }
  hook: { type: http, url: "${hooks.url}/in" }
spool: { dir: "${join(tmp.path, 'spool')}" }
streams: { flapWindow: 1s, thumbnailWait: 2s, health: { quiet: { after: 3s } } }
delivery: { retry: { schedule: [200ms, 400ms], jitter: 0 } }
routes:
  - when: { type: stream }
    to: [slack]
  - when: { type: stream, event: [black, frozen, quiet, recovered] }
    to: [hook]
`,
    )
    server = await startServer('node', path, ENV)
  }, 60_000)
  afterAll(async () => {
    await server?.stop()
    await slack?.close()
    await hooks?.close()
    tmp.remove()
  })

  const received = (): StreamEvent[] => hooks.requests.map((r) => JSON.parse(r.body.toString()) as StreamEvent)
  const analysed = async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text()
    return Number(/^hookcast_picture_analyses_total\{outcome="analysed"\} (\d+)$/m.exec(text)?.[1] ?? 0)
  }
  let sent = 0
  let at = 0
  /** Posts the next thumbnail, 30 s after the last, and waits until the tracker has looked at it. */
  async function thumbnail(jpeg: Uint8Array): Promise<Uint8Array> {
    at += 30_000
    const hook = await signedThumbnail({ body: jpeg, streamId: STREAM, feedId: 'h1', timestamp: at })
    expect((await post(`${server.url}/hooks/millicast`, hook)).status).toBe(200)
    sent++
    await eventually(async () => (await analysed()) >= sent, 20_000)
    return jpeg
  }
  const mine = () => slack.messages.filter((m) => blockText(m).includes('health'))

  it('posts live, a black problem and its recovery, a quiet problem and its recovery, each with its picture', async () => {
    at = Date.now()
    expect((await post(`${server.url}/hooks/millicast`, await feed('started', at))).status).toBe(200)
    await thumbnail(pictures.varied[0]!)
    const live = await eventually(() => mine().find((m) => m.via === 'upload' && !m.threadTs), 30_000)
    expect(Buffer.from(live.file!).equals(Buffer.from(pictures.varied[0]!))).toBe(true)

    for (const jpeg of [pictures.black[0]!, pictures.black[1]!]) await thumbnail(jpeg)
    const black = await eventually(() => received().find((e) => e.event === 'black'))
    const blackReply = await eventually(() => replies(live).find((m) => blockText(m).includes('black picture')))
    expect(blackReply.via).toBe('upload')
    expect(isOneOf(blackReply.file, pictures.black)).toBe(true)
    expect(black.data.thumbnail?.eventId).toBeTruthy()
    const blackUpdate = await eventually(() => updates(live).find((m) => blockText(m).includes('black picture')))
    expect(blockText(blackUpdate)).toContain('health* is live')

    for (const jpeg of [pictures.varied[1]!, pictures.varied[2]!]) await thumbnail(jpeg)
    await eventually(() => received().find((e) => e.event === 'recovered' && e.data.problem === 'black'))
    const recovery = await eventually(() => replies(live).find((m) => blockText(m).includes('picture recovered')))
    expect(isOneOf(recovery.file, pictures.varied.slice(1, 3))).toBe(true)
    expect(blockText(recovery)).toContain('It was: black picture')
    await eventually(() => updates(live).some((m) => blockText(m).includes('*Picture*\\nOK')))

    // No thumbnail for 3 s: quiet, shown with the last picture received; the next thumbnail clears it.
    await eventually(() => received().find((e) => e.event === 'quiet'), 45_000)
    const quiet = await eventually(() => replies(live).find((m) => blockText(m).includes('no thumbnails for 3 s')))
    expect(Buffer.from(quiet.file!).equals(Buffer.from(pictures.varied[2]!))).toBe(true)
    await thumbnail(pictures.varied[3]!)
    await eventually(() => received().find((e) => e.event === 'recovered' && e.data.problem === 'quiet'))
    await eventually(() => replies(live).find((m) => blockText(m).includes('thumbnails back after')))

    // One reply per problem and per recovery: the routes, the tracker and the notifier each hand on one.
    const kinds = received().map((e) => `${e.event}:${e.data.problem ?? ''}`)
    expect(kinds.sort()).toEqual(['black:black', 'quiet:quiet', 'recovered:black', 'recovered:quiet'])
    expect(replies(live)).toHaveLength(4)
  }, 120_000)

  function replies(live: SlackMessage) {
    return slack.messages.filter((m) => m.threadTs === live.ts)
  }
  function updates(live: SlackMessage) {
    return slack.messages.filter((m) => m.via === 'chat.update' && m.ts === live.ts)
  }
})

function isOneOf(file: Buffer | undefined, candidates: Uint8Array[]): boolean {
  return file !== undefined && candidates.some((jpeg) => Buffer.from(jpeg).equals(file))
}
