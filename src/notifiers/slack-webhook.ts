/**
 * Slack's incoming webhook mode: every message is a POST to the webhook URL, in the one channel the webhook was
 * made for. It cannot thread or update a message, and Slack shows an image only from a public URL: one signed by
 * an s3 or gcs sink that keeps the thumbnails (`image: { sink }`), or this gateway's own signed thumbnail link
 * (`image: { publicUrl }`).
 * @module
 */
import type { Destination } from '../destinations/types.ts'
import type { HookEvent } from '../events/types.ts'
import type { ThumbnailRef } from '../streams/stream-types.ts'
import { reachable } from '../util/reachable.ts'
import type { SlackNotifierConfig } from '../config/slack-notifier.ts'
import { sendToSlack } from './slack-failures.ts'
import { endedMessage, liveMessage, mediaMessage, type Image } from './slack-messages.ts'
import type { SlackMode, SlackModeOptions } from './slack-mode.ts'

/** The channel name pacing uses: a webhook posts into one channel. */
const CHANNEL = 'webhook'

interface WebhookModeOptions extends SlackModeOptions {
  url: string
  image: SlackNotifierConfig['image']
  /** Another destination by name (the sink that makes image URLs). */
  destination(name: string): Destination | undefined
  /** hookcast's own signed URL of a thumbnail the stream state keeps. */
  thumbnailUrl(publicUrl: string, ref: ThumbnailRef, expiryMs: number): Promise<string>
}

export function createWebhookMode(options: WebhookModeOptions): SlackMode {
  const { name, templates, image } = options

  /** The public URL of a thumbnail, when the config says how to make one. */
  async function imageUrl(ref: ThumbnailRef | undefined): Promise<Image> {
    if (!ref || !image) return undefined
    if ('sink' in image) {
      const sink = options.destination(image.sink) as { urlFor?(event: HookEvent): Promise<string> } | undefined
      if (!sink?.urlFor) return undefined
      return { url: await sink.urlFor({ ...ref.event, body: new Uint8Array() }) }
    }
    return { url: await options.thumbnailUrl(image.publicUrl, ref, image.expiry) }
  }

  async function post(message: { text: string; blocks: unknown[] }, signal?: AbortSignal): Promise<void> {
    await options.pace(CHANNEL)
    await postIncomingWebhook(options.url, message, name, signal)
  }

  return {
    threads: false,
    check: () => reachable(options.url), // posting is the only way to test a webhook; see that it answers
    async live(event, facts, thumbnail, remember, signal) {
      await post(liveMessage(templates.live, event, facts, await imageUrl(thumbnail), !thumbnail), signal)
      await remember({ live: 'posted' })
    },
    async ended(event, times, thumbnail, _liveTs, signal) {
      await post(
        endedMessage(templates.ended, event, times.liveSince, times.endedAt, await imageUrl(thumbnail), times.notes),
        signal,
      )
      return undefined
    },
    async health(_event, message, thumbnail, _live, signal) {
      await post(message(await imageUrl(thumbnail)), signal)
      return undefined
    },
    async media(event, _thread, signal) {
      await post(mediaMessage(templates.media, event), signal)
    },
  }
}

/** Posts to an incoming webhook. Its errors come as HTTP statuses with a short text body. */
export async function postIncomingWebhook(
  url: string,
  message: Record<string, unknown>,
  label: string,
  signal?: AbortSignal,
): Promise<void> {
  await sendToSlack(
    url,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify(message),
      ...(signal ? { signal } : {}),
    },
    label,
  )
}
