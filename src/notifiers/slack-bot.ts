/**
 * Slack's bot mode: the Web API with a bot token, into one channel. Messages go out with `chat.postMessage`; a
 * thumbnail is uploaded with the files upload v2 flow and shared into the channel with the message (`files.info`
 * then says which message that made); the live message is updated with `chat.update` when the stream ends, and the
 * end, recordings and media results are posted in its thread.
 * @module
 */
import type { HookEvent } from '../events/types.ts'
import type { Logger } from '../log.ts'
import type { ThumbnailRef } from '../streams/stream-types.ts'
import { createSlackWebApi, type SlackWebApi } from './slack-api.ts'
import { endedMessage, liveMessage, mediaMessage, type LiveFacts } from './slack-messages.ts'
import type { Message, SlackMode, SlackModeOptions } from './slack-mode.ts'

interface BotModeOptions extends SlackModeOptions {
  apiUrl: string
  token: string
  /** The channel id. */
  channel: string
  /** The bytes of a thumbnail the stream state keeps, if it still has them. */
  thumbnailBytes(streamId: string, ref: ThumbnailRef): Promise<Uint8Array | undefined>
  log: Logger
}

export function createBotMode(options: BotModeOptions): SlackMode {
  const bot: Bot = { options, api: createSlackWebApi(options.apiUrl, options.token, options.name) }
  const { templates } = options
  return {
    threads: true,
    async check() {
      try {
        await bot.api.call('auth.test', {})
        return undefined
      } catch (error) {
        return (error as Error).message
      }
    },
    live: (event, facts, thumbnail, remember, signal) => postLive(bot, event, facts, thumbnail, remember, signal),
    liveShared: (fileId, streamId, remember, signal) => rememberShare(bot, fileId, streamId, remember, signal),
    async ended(event, times, thumbnail, liveTs, signal) {
      const message = endedMessage(templates.ended, event, times.liveSince, times.endedAt, undefined, times.notes)
      if (liveTs) {
        await options.pace(options.channel)
        await bot.api.call('chat.update', { channel: options.channel, ts: liveTs, ...message }, opts(signal))
      }
      const bytes = await bytesOf(bot, event.streamId, thumbnail)
      return bytes
        ? postWithUpload(bot, message, bytes, fileName(event, 'last'), liveTs, signal)
        : post(bot, message, liveTs, signal)
    },
    async health(event, build, thumbnail, live, signal) {
      if (live.ts && live.update) {
        await options.pace(options.channel)
        await bot.api.call('chat.update', { channel: options.channel, ts: live.ts, ...live.update }, opts(signal))
      }
      const message = build(undefined)
      const bytes = await bytesOf(bot, event.streamId, thumbnail)
      return bytes
        ? postWithUpload(bot, message, bytes, fileName(event, event.event), live.ts, signal)
        : post(bot, message, live.ts, signal)
    },
    async media(event, thread, signal) {
      await post(bot, mediaMessage(templates.media, event), thread, signal)
    },
  }
}

/** What the bot's steps share: its options and its Web API client. */
interface Bot {
  options: BotModeOptions
  api: SlackWebApi
}

/** The live message: with the first thumbnail uploaded when the stream state still has it, else text alone. */
async function postLive(
  bot: Bot,
  event: HookEvent,
  facts: LiveFacts,
  thumbnail: ThumbnailRef | undefined,
  remember: (fields: Record<string, string>) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  const bytes = await bytesOf(bot, facts.streamId, thumbnail)
  const message = liveMessage(bot.options.templates.live, event, facts, undefined, !thumbnail)
  if (!bytes) {
    const ts = await post(bot, message, undefined, signal)
    await remember({ live: ts ?? 'posted' })
    return
  }
  const fileId = await postWithUpload(bot, message, bytes, fileName(event, 'live'), undefined, signal)
  await remember({ liveFile: fileId }) // uploaded: a redelivery must not upload it again
  await rememberShare(bot, fileId, facts.streamId, remember, signal)
}

/** Remembers the ts of the message an uploaded live picture was shared with, as `live`. */
async function rememberShare(
  bot: Bot,
  fileId: string,
  streamId: string,
  remember: (fields: Record<string, string>) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  const ts = await shareTs(bot, fileId, signal)
  // Replies wait for `live`, the message's ts: without one they go unthreaded, so they must not wait for nothing.
  await remember({ live: ts ?? 'posted' })
  if (!ts)
    bot.options.log.warn('Slack did not say where the live message is; the end will be a new message', {
      notifier: bot.options.name,
      stream: streamId,
    })
}

/** Posts a message (in `thread`, when given); resolves its ts. */
async function post(bot: Bot, message: Message, thread?: string, signal?: AbortSignal): Promise<string | undefined> {
  const { channel } = bot.options
  await bot.options.pace(channel)
  const result = await bot.api.call<{ ts: string }>(
    'chat.postMessage',
    { channel, ...message, ...(thread ? { thread_ts: thread } : {}) },
    opts(signal),
  )
  return result.ts
}

/** A message carrying an uploaded JPEG (files upload v2, shared into the channel with the message): its file id. */
async function postWithUpload(
  bot: Bot,
  message: Message,
  bytes: Uint8Array,
  filename: string,
  thread?: string,
  signal?: AbortSignal,
): Promise<string> {
  const { channel } = bot.options
  const share = { channel_id: channel, blocks: message.blocks, ...(thread ? { thread_ts: thread } : {}) }
  return bot.api.uploadFile(bytes, filename, share, () => bot.options.pace(channel), signal)
}

/** The ts of the message a shared file created: Slack shares asynchronously, so files.info may need a moment. */
async function shareTs(bot: Bot, fileId: string, signal?: AbortSignal): Promise<string | undefined> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const info = await bot.api.call<{ file?: { shares?: Record<string, Record<string, Array<{ ts: string }>>> } }>(
      'files.info',
      { file: fileId },
      { form: true, ...opts(signal) },
    )
    for (const visibility of Object.values(info.file?.shares ?? {})) {
      const ts = visibility[bot.options.channel]?.[0]?.ts
      if (ts) return ts
    }
    await new Promise((resolve) => setTimeout(resolve, 400 * (attempt + 1)))
  }
  return undefined
}

function bytesOf(bot: Bot, streamId: string | undefined, ref: ThumbnailRef | undefined) {
  return streamId && ref ? bot.options.thumbnailBytes(streamId, ref) : Promise.resolve(undefined)
}

function opts(signal?: AbortSignal) {
  return signal ? { signal } : {}
}

/** An uploaded image's name (Slack shows it as the file's title): the stream name reduced to safe characters. */
function fileName(event: HookEvent, which: string): string {
  const name = (event.streamName ?? '')
    .replace(/[^A-Za-z0-9_-]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 100)
  return `${name || 'stream'}-${which.replace(/[^a-z]+/g, '')}.jpg`
}
