/**
 * The Slack notifier: a "live" message per stream session with its first thumbnail, an "ended" update with the
 * duration and last thumbnail, and recording/media results in the same thread.
 *
 * Two modes. Incoming webhook (`webhookUrl`): one channel, images by public URL. Bot (`token` + `channel`): the
 * Web API; images are uploaded with Slack's files upload v2 flow, the live message is updated when the stream ends
 * and later messages go into its thread.
 * @module
 */
import { z } from 'zod'
import { duration } from '../config/size.ts'
import { DeliveryDeferred, type Destination } from '../destinations/types.ts'
import type { HookEvent } from '../events/types.ts'
import type { StreamRecord, StreamStore, ThumbnailRef } from '../streams/types.ts'
import type { Logger } from '../log.ts'
import { createSlackWebApi, postIncomingWebhook, type SlackWebApi } from './slack-api.ts'
import { DEFAULT_TEMPLATES, endedMessage, liveMessage, mediaMessage, type Image } from './slack-messages.ts'
import { reachable } from '../util/reachable.ts'
import { activeFeedIds } from '../streams/active-feeds.ts'

export const slackNotifierConfig = z.object({
  type: z.literal('slack'),
  /** Incoming webhook mode: the webhook URL (from ${ENV}: it is a secret). */
  webhookUrl: z.url({ protocol: /^https?$/ }).optional(),
  /** Bot mode: a bot token (xoxb-..., from ${ENV}) and the channel id to post in. */
  token: z.string().min(1).optional(),
  channel: z.string().min(1).optional(),
  /** Where the Web API is (a proxy, a test server). */
  apiUrl: z.url({ protocol: /^https?$/ }).default('https://slack.com/api'),
  /** How long a live alert waits for the stream's first thumbnail (they come every 30 s). */
  thumbnailWait: duration.default(45_000),
  /**
   * Webhook mode only, where Slack needs a public image URL: `{ sink: NAME }` (an s3 or gcs sink that stores the
   * thumbnails and can sign URLs), `{ publicUrl: URL }` (this gateway's own signed thumbnail links), or `false`.
   */
  image: z.union([
    z.literal(false),
    z.object({ sink: z.string().min(1) }).strict(),
    z.object({ publicUrl: z.url({ protocol: /^https?$/ }), expiry: duration.default(7 * 86_400_000) }).strict(),
  ]).optional(),
  /** Message headlines; placeholders as in sink keys, plus {duration} {feeds} {liveSince} {endedAt}. */
  templates: z.object({ live: z.string().min(1), ended: z.string().min(1), media: z.string().min(1) }).partial().strict().default({}),
  /** At most one message per this interval per channel (Slack allows about one per second). */
  minInterval: duration.default(1_000),
}).strict().superRefine((config, ctx) => {
  const bot = config.token !== undefined || config.channel !== undefined
  if (config.webhookUrl && bot) ctx.addIssue({ code: 'custom', message: 'set either webhookUrl, or token and channel, not both' })
  if (!config.webhookUrl && !(config.token && config.channel)) {
    ctx.addIssue({ code: 'custom', message: 'set webhookUrl (incoming webhook mode), or token and channel (bot mode)' })
  }
  if (config.webhookUrl && config.image === undefined) {
    ctx.addIssue({
      code: 'custom', path: ['image'],
      message: 'webhook mode has no way to show thumbnails: Slack needs a public image URL. Set image: { sink: <s3 or gcs sink> }, ' +
        'or image: { publicUrl: <this gateway\'s public URL> }, or image: false to post without images (or use bot mode)',
    })
  }
  if (!config.webhookUrl && config.image !== undefined) ctx.addIssue({ code: 'custom', path: ['image'], message: 'only for webhook mode: bot mode uploads images itself' })
})

export type SlackNotifierConfig = z.infer<typeof slackNotifierConfig>

export interface NotifierDeps {
  streams: StreamStore
  /** Another destination by name (the sink that makes image URLs). */
  destination(name: string): Destination | undefined
  /** hookcast's own signed URL of a thumbnail the stream state keeps. */
  thumbnailUrl(publicUrl: string, ref: ThumbnailRef, expiryMs: number): Promise<string>
  log: Logger
  now: () => number
}

/** Events this notifier posts about; anything else routed to it is accepted and ignored. */
const MEDIA_EVENTS = new Set(['recordings:completed', 'recordings:error', 'media:completed', 'media:errored'])
/** An "ended" waits at most this long past the live alert's own wait for the live message to be posted first. */
const ENDED_WAITS_MS = 60_000
const KEEP_SESSIONS = 5

export function createSlackNotifier(name: string, config: SlackNotifierConfig, deps: NotifierDeps): Destination {
  const templates = { ...DEFAULT_TEMPLATES, ...config.templates }
  const api: SlackWebApi | undefined = config.token ? createSlackWebApi(config.apiUrl, config.token, name) : undefined
  const channel = config.channel ?? 'webhook'
  const pace = pacer(config.minInterval, deps.now)

  /** Remembers what was posted for a session (persisted with the stream, so a restart still threads and updates). */
  async function remember(streamId: string, session: string, fields: Record<string, string>): Promise<void> {
    await deps.streams.update(streamId, (r) => {
      const mine = (r.alerts[name] ??= {})
      mine[session] = { ...mine[session], ...fields }
      const sessions = Object.keys(mine)
      for (const old of sessions.slice(0, Math.max(0, sessions.length - KEEP_SESSIONS))) delete mine[old]
    })
  }

  const posted = (record: StreamRecord | undefined, session: string) => record?.alerts[name]?.[session] ?? {}

  /** The image of a thumbnail: a URL (webhook mode) or the bytes to upload (bot mode). */
  async function imageUrl(ref: ThumbnailRef | undefined): Promise<Image> {
    if (!ref || !config.image) return undefined
    if ('sink' in config.image) {
      const sink = deps.destination(config.image.sink) as { urlFor?(event: HookEvent): Promise<string> } | undefined
      if (!sink?.urlFor) return undefined
      return { url: await sink.urlFor({ ...ref.event, body: new Uint8Array() }) }
    }
    return { url: await deps.thumbnailUrl(config.image.publicUrl, ref, config.image.expiry) }
  }

  async function post(message: { text: string; blocks: unknown[] }, thread?: string, signal?: AbortSignal): Promise<string | undefined> {
    await pace(channel)
    if (!api) {
      await postIncomingWebhook(config.webhookUrl!, message, name, signal)
      return undefined
    }
    const result = await api.call<{ ts: string }>('chat.postMessage', { channel, ...message, ...(thread ? { thread_ts: thread } : {}) }, signal ? { signal } : {})
    return result.ts
  }

  /** Bot mode: a message carrying an uploaded JPEG (files upload v2, shared into the channel with the message). */
  async function postWithUpload(message: { text: string; blocks: unknown[] }, bytes: Uint8Array, filename: string, thread?: string, signal?: AbortSignal): Promise<string> {
    const share = { channel_id: channel, blocks: message.blocks, ...(thread ? { thread_ts: thread } : {}) }
    return api!.uploadFile(bytes, filename, share, () => pace(channel), signal)
  }

  /** The ts of the message a shared file created: Slack shares asynchronously, so files.info may need a moment. */
  async function shareTs(fileId: string, signal?: AbortSignal): Promise<string | undefined> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const info = await api!.call<{ file?: { shares?: Record<string, Record<string, Array<{ ts: string }>>> } }>('files.info', { file: fileId }, { form: true, ...(signal ? { signal } : {}) })
      for (const visibility of Object.values(info.file?.shares ?? {})) {
        const ts = visibility[channel]?.[0]?.ts
        if (ts) return ts
      }
      await new Promise((resolve) => setTimeout(resolve, 400 * (attempt + 1)))
    }
    return undefined
  }

  async function onLive(event: HookEvent, signal?: AbortSignal): Promise<void> {
    const session = String(event.data?.session ?? '')
    const streamId = event.streamId!
    const record = deps.streams.get(streamId)
    const done = posted(record, session)
    if (done.live || done.liveFile) return // already posted (a redelivery)
    const current = record?.session === session ? record : undefined
    const deadline = event.receivedAt + config.thumbnailWait
    if (current && !current.firstThumbnail && deps.now() < deadline) {
      throw new DeliveryDeferred('waiting for the stream\'s first thumbnail', Math.min(deadline, deps.now() + 1_000))
    }
    const thumbnail = current?.firstThumbnail
    const activeFeeds = current ? activeFeedIds(current).length : 0
    const facts = {
      streamId,
      ...(event.accountId ? { accountId: event.accountId } : {}),
      liveSince: Number(event.data?.liveSince ?? event.timestamp),
      feeds: Math.max(activeFeeds, (event.data?.feeds as unknown[] | undefined)?.length ?? 0),
    }
    const bytes = api && thumbnail ? await deps.streams.thumbnail(streamId, thumbnail.eventId) : undefined
    const image = bytes ? undefined : await imageUrl(thumbnail)
    const message = liveMessage(templates.live, event, facts, image, !thumbnail)
    if (bytes) {
      const fileId = await postWithUpload(message, bytes, fileName(event, 'live'), undefined, signal)
      await remember(streamId, session, { liveFile: fileId })
      const ts = await shareTs(fileId, signal)
      if (ts) await remember(streamId, session, { live: ts })
      else deps.log.warn('Slack did not say where the live message is; the end will be a new message', { notifier: name, stream: streamId })
    } else {
      const ts = await post(message, undefined, signal)
      await remember(streamId, session, { live: ts ?? 'posted' })
    }
  }

  async function onEnded(event: HookEvent, signal?: AbortSignal): Promise<void> {
    const session = String(event.data?.session ?? '')
    const streamId = event.streamId!
    const record = deps.streams.get(streamId)
    const done = posted(record, session)
    if (done.ended) return
    if (!done.live && !done.liveFile && deps.now() < event.receivedAt + config.thumbnailWait + ENDED_WAITS_MS) {
      throw new DeliveryDeferred('waiting for the live message to be posted first', deps.now() + 1_000)
    }
    const thumbnail = record?.latestThumbnail
    const liveSince = typeof event.data?.liveSince === 'number' ? event.data.liveSince : undefined
    const endedAt = typeof event.data?.endedAt === 'number' ? event.data.endedAt : event.timestamp
    const liveTs = done.live && done.live !== 'posted' ? done.live : undefined
    if (!api) {
      await post(endedMessage(templates.ended, event, liveSince, endedAt, await imageUrl(thumbnail)), undefined, signal)
      await remember(streamId, session, { ended: 'posted' })
      return
    }
    const message = endedMessage(templates.ended, event, liveSince, endedAt, undefined)
    if (liveTs) {
      await pace(channel)
      await api.call('chat.update', { channel, ts: liveTs, ...message }, signal ? { signal } : {})
    }
    const bytes = thumbnail ? await deps.streams.thumbnail(streamId, thumbnail.eventId) : undefined
    const ts = bytes
      ? await postWithUpload(message, bytes, fileName(event, 'last'), liveTs, signal)
      : await post(message, liveTs, signal)
    await remember(streamId, session, { ended: ts ?? 'posted' })
  }

  async function onMedia(event: HookEvent, signal?: AbortSignal): Promise<void> {
    const record = findStream(deps.streams, event)
    const done = record?.session ? posted(record, record.session) : {}
    if (api && record?.session && !done.live && deps.now() < event.receivedAt + config.thumbnailWait + ENDED_WAITS_MS) {
      // The stream's live message is still to be posted (or its ts looked up): wait, to answer in its thread.
      throw new DeliveryDeferred('waiting for the live message, to reply in its thread', deps.now() + 1_000)
    }
    const thread = api ? done.live : undefined
    await post(mediaMessage(templates.media, event), thread && thread !== 'posted' ? thread : undefined, signal)
  }

  return {
    name,
    kind: 'notifier',
    async check() {
      if (!api) return reachable(config.webhookUrl!) // posting is the only way to test a webhook; see that it answers
      try {
        await api.call('auth.test', {})
        return undefined
      } catch (error) {
        return (error as Error).message
      }
    },
    async deliver(event, signal) {
      if (event.type === 'stream' && event.streamId) {
        if (event.event === 'live') return onLive(event, signal)
        if (event.event === 'ended') return onEnded(event, signal)
      }
      if (MEDIA_EVENTS.has(`${event.type}:${event.event}`)) return onMedia(event, signal)
    },
  }
}

/** An uploaded image's name (Slack shows it as the file's title): the stream name reduced to safe characters. */
function fileName(event: HookEvent, which: 'live' | 'last'): string {
  const name = (event.streamName ?? '').replace(/[^A-Za-z0-9_-]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 100)
  return `${name || 'stream'}-${which}.jpg`
}

/** The stream a recording/media event belongs to: by id, else (recordings carry only a name) by name. */
function findStream(streams: StreamStore, event: HookEvent): StreamRecord | undefined {
  if (event.streamId) return streams.get(event.streamId)
  return streams.all().filter((r) => r.streamName === event.streamName).sort((a, b) => b.updatedAt - a.updatedAt)[0]
}

/** Spaces calls per channel by at least `intervalMs`, whatever the number of deliveries under way. */
function pacer(intervalMs: number, now: () => number): (channel: string) => Promise<void> {
  const next = new Map<string, number>()
  return async (channel) => {
    const at = Math.max(now(), next.get(channel) ?? 0)
    next.set(channel, at + intervalMs)
    const wait = at - now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
  }
}
