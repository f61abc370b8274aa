/**
 * What the Slack notifier's steps share, and what it remembers per stream session: the message ids it posted, kept
 * with the stream record so a redelivery or a restart neither posts twice nor loses the thread. Also how an event's
 * thumbnail reference (`{ eventId, timestamp }`) becomes the record's full reference, which a sink needs for its key.
 * @module
 */
import type { HookEvent } from '../events/types.ts'
import type { Destination } from '../destinations/types.ts'
import type { Logger } from '../log.ts'
import type { SlackNotifierConfig } from '../config/slack-notifier.ts'
import type { StreamRecord, ThumbnailRef } from '../streams/stream-types.ts'
import { updateWithRetry, type StreamStore } from '../streams/stream-store.ts'
import { errorText } from '../util/error-text.ts'
import { sleep } from '../util/sleep.ts'
import type { SlackMode } from './slack-mode.ts'
import type { HealthTimes } from './health-words.ts'

export interface NotifierDeps {
  streams: StreamStore
  /** Another destination by name (the sink that makes image URLs). */
  destination(name: string): Destination | undefined
  /** hookcast's own signed URL of a thumbnail the stream state keeps. */
  thumbnailUrl(publicUrl: string, ref: ThumbnailRef, expiryMs: number): Promise<string>
  /** The stream settings alerts name ("no thumbnails for 90 s"). */
  healthTimes?: HealthTimes
  log: Logger
  now: () => number
}

/** What the notifier's steps share. */
export interface Slack {
  name: string
  config: SlackNotifierConfig
  deps: NotifierDeps
  mode: SlackMode
}

/** Sessions a stream keeps alert ids for (older ones are dropped). */
const KEEP_SESSIONS = 5

/**
 * Waits before writing what was posted again, when the stream state failed (NATS restarting): the message is in
 * Slack already, and a delivery that failed on this write would post it again at its retry.
 */
const REMEMBER_WAITS_MS = [250, 500, 1_000, 2_000]

/** Remembers what was posted for a session (persisted with the stream, so a restart still threads and updates). */
export async function remember(slack: Slack, streamId: string, session: string, fields: Record<string, string>) {
  for (let attempt = 0; ; attempt++) {
    try {
      await updateWithRetry(
        slack.deps.streams,
        streamId,
        (r) => {
          const mine = (r.alerts[slack.name] ??= {})
          mine[session] = { ...mine[session], ...fields }
          const sessions = Object.keys(mine)
          for (const old of sessions.slice(0, Math.max(0, sessions.length - KEEP_SESSIONS))) delete mine[old]
        },
        { now: slack.deps.now },
      )
      return
    } catch (error) {
      const wait = REMEMBER_WAITS_MS[attempt]
      if (wait === undefined) throw error
      slack.deps.log.warn('cannot keep what was posted to Slack with the stream; trying again', {
        notifier: slack.name,
        stream: streamId,
        error: errorText(error),
      })
      await sleep(wait)
    }
  }
}

export function posted(slack: Slack, record: StreamRecord | undefined, session: string) {
  return record?.alerts[slack.name]?.[session] ?? {}
}

/** The stream session a stream event is about: its record, and what was posted for it so far. */
export async function sessionOf(slack: Slack, event: HookEvent) {
  const session = String(event.data?.session ?? '')
  const streamId = event.streamId!
  const record = (await slack.deps.streams.get(streamId))?.record
  return { session, streamId, record, done: posted(slack, record, session) }
}

/** The live message's ts, when it was posted and Slack said where (`posted`: webhook mode, no ts). */
export function liveTsOf(done: Record<string, string>): string | undefined {
  return done.live && done.live !== 'posted' ? done.live : undefined
}

/**
 * The thumbnail an event's `data[field]` refers to: the record's own reference to it (which names the thumbnail
 * event, for a sink's key), else one made from the event (enough for the bytes and hookcast's signed link).
 */
export function thumbnailOf(
  event: HookEvent,
  record: StreamRecord | undefined,
  field = 'thumbnail',
): ThumbnailRef | undefined {
  const brief = event.data?.[field] as { eventId?: unknown; timestamp?: unknown } | undefined
  if (!brief || typeof brief.eventId !== 'string') return undefined
  const known = record && knownThumbnails(record).find((ref) => ref.eventId === brief.eventId)
  if (known) return known
  const timestamp = typeof brief.timestamp === 'number' ? brief.timestamp : event.timestamp
  return {
    eventId: brief.eventId,
    timestamp,
    event: {
      id: brief.eventId,
      source: event.source,
      type: 'thumbnail',
      event: 'thumbnail',
      timestamp,
      receivedAt: timestamp,
      contentType: 'image/jpeg',
      ...(event.streamId ? { streamId: event.streamId } : {}),
      ...(event.streamName ? { streamName: event.streamName } : {}),
      ...(event.accountId ? { accountId: event.accountId } : {}),
    },
  }
}

function knownThumbnails(r: StreamRecord): ThumbnailRef[] {
  const open = Object.values(r.health?.open ?? {}).map((problem) => problem?.thumbnail)
  const refs = [r.firstThumbnail, r.latestThumbnail, ...(r.health?.shown ?? []), ...open]
  return refs.filter((ref): ref is ThumbnailRef => ref !== undefined)
}
