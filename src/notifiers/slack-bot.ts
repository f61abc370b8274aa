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
import { createSlackWebApi } from './slack-api.ts'
import { endedMessage, liveMessage, mediaMessage } from './slack-messages.ts'
import type { SlackMode, SlackModeOptions } from './slack-mode.ts'

type Message = { text: string; blocks: unknown[] }

export interface BotModeOptions extends SlackModeOptions {
  apiUrl: string
  token: string
  /** The channel id. */
  channel: string
  /** The bytes of a thumbnail the stream state keeps, if it still has them. */
  thumbnailBytes(streamId: string, ref: ThumbnailRef): Promise<Uint8Array | undefined>
  log: Logger
}

export function createBotMode(options: BotModeOptions): SlackMode {
  const { name, templates, channel, pace } = options
  const api = createSlackWebApi(options.apiUrl, options.token, name)
  const opts = (signal?: AbortSignal) => (signal ? { signal } : {})

  /** Posts a message (in `thread`, when given); resolves its ts. */
  async function post(message: Message, thread?: string, signal?: AbortSignal): Promise<string | undefined> {
    await pace(channel)
    const result = await api.call<{ ts: string }>(
      'chat.postMessage',
      { channel, ...message, ...(thread ? { thread_ts: thread } : {}) },
      opts(signal),
    )
    return result.ts
  }

  /** A message carrying an uploaded JPEG (files upload v2, shared into the channel with the message): its file id. */
  async function postWithUpload(
    message: Message,
    bytes: Uint8Array,
    filename: string,
    thread?: string,
    signal?: AbortSignal,
  ): Promise<string> {
    const share = { channel_id: channel, blocks: message.blocks, ...(thread ? { thread_ts: thread } : {}) }
    return api.uploadFile(bytes, filename, share, () => pace(channel), signal)
  }

  /** The ts of the message a shared file created: Slack shares asynchronously, so files.info may need a moment. */
  async function shareTs(fileId: string, signal?: AbortSignal): Promise<string | undefined> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const info = await api.call<{ file?: { shares?: Record<string, Record<string, Array<{ ts: string }>>> } }>(
        'files.info',
        { file: fileId },
        { form: true, ...opts(signal) },
      )
      for (const visibility of Object.values(info.file?.shares ?? {})) {
        const ts = visibility[channel]?.[0]?.ts
        if (ts) return ts
      }
      await new Promise((resolve) => setTimeout(resolve, 400 * (attempt + 1)))
    }
    return undefined
  }

  const bytesOf = (streamId: string | undefined, ref: ThumbnailRef | undefined) =>
    streamId && ref ? options.thumbnailBytes(streamId, ref) : Promise.resolve(undefined)

  return {
    threads: true,
    async check() {
      try {
        await api.call('auth.test', {})
        return undefined
      } catch (error) {
        return (error as Error).message
      }
    },

    async live(event, facts, thumbnail, remember, signal) {
      const bytes = await bytesOf(facts.streamId, thumbnail)
      const message = liveMessage(templates.live, event, facts, undefined, !thumbnail)
      if (!bytes) {
        const ts = await post(message, undefined, signal)
        await remember({ live: ts ?? 'posted' })
        return
      }
      const fileId = await postWithUpload(message, bytes, fileName(event, 'live'), undefined, signal)
      await remember({ liveFile: fileId }) // uploaded: a redelivery must not upload it again
      const ts = await shareTs(fileId, signal)
      if (ts) await remember({ live: ts })
      else
        options.log.warn('Slack did not say where the live message is; the end will be a new message', {
          notifier: name,
          stream: facts.streamId,
        })
    },

    async ended(event, times, thumbnail, liveTs, signal) {
      const message = endedMessage(templates.ended, event, times.liveSince, times.endedAt, undefined)
      if (liveTs) {
        await pace(channel)
        await api.call('chat.update', { channel, ts: liveTs, ...message }, opts(signal))
      }
      const bytes = await bytesOf(event.streamId, thumbnail)
      return bytes
        ? postWithUpload(message, bytes, fileName(event, 'last'), liveTs, signal)
        : post(message, liveTs, signal)
    },

    async media(event, thread, signal) {
      await post(mediaMessage(templates.media, event), thread, signal)
    },
  }
}

/** An uploaded image's name (Slack shows it as the file's title): the stream name reduced to safe characters. */
function fileName(event: HookEvent, which: 'live' | 'last'): string {
  const name = (event.streamName ?? '')
    .replace(/[^A-Za-z0-9_-]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 100)
  return `${name || 'stream'}-${which}.jpg`
}
