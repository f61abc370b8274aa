/**
 * What a Slack mode does: post the messages the Slack notifier decides on, each in its own way. Incoming webhook
 * mode posts into one channel and shows images by URL; bot mode uses the Web API, uploads the images, updates the
 * live message when the stream ends and threads later messages under it.
 * @module
 */
import type { HookEvent } from '../events/types.ts'
import type { ThumbnailRef } from '../streams/stream-types.ts'
import type { EndNotes, Image, LiveFacts, Templates } from './slack-messages.ts'

/** Keeps what was posted for the stream session (message ts, file id), so a redelivery does not post it again. */
type Remember = (fields: Record<string, string>) => Promise<void>

export interface SlackMode {
  /** Later messages go into the live message's thread: then they wait for it to be posted. */
  readonly threads: boolean
  /** Undefined when Slack answers as it should with this config; else what is wrong. */
  check(): Promise<string | undefined>
  /** Posts the live alert, with the stream's first thumbnail when there is one, remembering each part once posted. */
  live(
    event: HookEvent,
    facts: LiveFacts,
    thumbnail: ThumbnailRef | undefined,
    remember: Remember,
    signal?: AbortSignal,
  ): Promise<void>
  /**
   * Finds and remembers where the live message whose upload was remembered (`liveFile`) was shared, as `live`: the
   * delivery that uploaded it failed or died before Slack said (bot mode; webhook mode uploads nothing).
   */
  liveShared?(fileId: string, streamId: string, remember: Remember, signal?: AbortSignal): Promise<void>
  /**
   * Posts that the stream ended, with its last thumbnail; where the live message is known (`liveTs`), bot mode
   * updates it and posts in its thread. Resolves the ts or file id of what it posted, when there is one.
   */
  ended(
    event: HookEvent,
    times: StreamTimes,
    thumbnail: ThumbnailRef | undefined,
    liveTs: string | undefined,
    signal?: AbortSignal,
  ): Promise<string | undefined>
  /**
   * Posts a health event (a problem or its recovery) with the thumbnail that shows it. Bot mode first replaces the
   * live message with `live.update` (its health) and replies in its thread with the picture uploaded; webhook mode
   * posts one message with the picture's link. Resolves the ts or file id of what it posted, when there is one.
   */
  health(
    event: HookEvent,
    message: (image: Image) => Message,
    thumbnail: ThumbnailRef | undefined,
    live: { ts?: string; update?: Message },
    signal?: AbortSignal,
  ): Promise<string | undefined>
  /** Posts a recording or media result, in the live message's thread when given one. */
  media(event: HookEvent, thread: string | undefined, signal?: AbortSignal): Promise<void>
}

interface StreamTimes {
  liveSince: number | undefined
  endedAt: number
  notes?: EndNotes
}

export type Message = { text: string; blocks: unknown[] }

/** What every mode is made with. */
export interface SlackModeOptions {
  /** The notifier's name, for messages and logs. */
  name: string
  templates: Templates
  /** Resolves when the channel may take the next message (Slack allows about one a second per channel). */
  pace(channel: string): Promise<void>
}
