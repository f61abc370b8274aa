/**
 * The Slack notifier: a "live" message per stream session with its first thumbnail, an "ended" update with the
 * duration and last thumbnail, and recording/media results in the same thread. This file decides what to post
 * when (a live alert waits for the first thumbnail, an end for the live alert) and remembers what was posted with
 * the stream, so a redelivery or a restart neither posts twice nor loses the thread. How it is posted is the
 * mode's: an incoming webhook or a bot.
 * @module
 */
import { DeliveryDeferred, type Destination } from '../destinations/types.ts'
import type { HookEvent } from '../events/types.ts'
import type { StreamRecord, ThumbnailRef } from '../streams/stream-types.ts'
import { updateWithRetry, type StreamStore } from '../streams/stream-store.ts'
import type { Logger } from '../log.ts'
import type { SlackNotifierConfig } from '../config/slack-notifier.ts'
import { DEFAULT_TEMPLATES } from './slack-messages.ts'
import type { SlackMode, SlackModeOptions } from './slack-mode.ts'
import { createWebhookMode } from './slack-webhook.ts'
import { createBotMode } from './slack-bot.ts'
import { activeFeedIds } from '../streams/active-feeds.ts'

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

/** The mode the config names: an incoming webhook (`webhookUrl`), or a bot (`token` and `channel`). */
function modeFor(name: string, config: SlackNotifierConfig, deps: NotifierDeps): SlackMode {
  const common: SlackModeOptions = {
    name,
    templates: { ...DEFAULT_TEMPLATES, ...config.templates },
    pace: pacer(config.minInterval, deps.now),
  }
  if (config.webhookUrl) {
    return createWebhookMode({
      ...common,
      url: config.webhookUrl,
      image: config.image,
      destination: (sink) => deps.destination(sink),
      thumbnailUrl: (publicUrl, ref, expiryMs) => deps.thumbnailUrl(publicUrl, ref, expiryMs),
    })
  }
  return createBotMode({
    ...common,
    apiUrl: config.apiUrl,
    token: config.token!,
    channel: config.channel!,
    log: deps.log,
    thumbnailBytes: (streamId, ref) => deps.streams.thumbnail(streamId, ref.eventId),
  })
}

export function createSlackNotifier(name: string, config: SlackNotifierConfig, deps: NotifierDeps): Destination {
  const slack: Slack = { name, config, deps, mode: modeFor(name, config, deps) }
  return {
    name,
    kind: 'notifier',
    check: () => slack.mode.check(),
    async deliver(event, signal) {
      if (event.type === 'stream' && event.streamId) {
        if (event.event === 'live') return onLive(slack, event, signal)
        if (event.event === 'ended') return onEnded(slack, event, signal)
      }
      if (MEDIA_EVENTS.has(`${event.type}:${event.event}`)) return onMedia(slack, event, signal)
    },
  }
}

/** What the notifier's steps share. */
interface Slack {
  name: string
  config: SlackNotifierConfig
  deps: NotifierDeps
  mode: SlackMode
}

/** Remembers what was posted for a session (persisted with the stream, so a restart still threads and updates). */
async function remember(slack: Slack, streamId: string, session: string, fields: Record<string, string>) {
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
}

function posted(slack: Slack, record: StreamRecord | undefined, session: string) {
  return record?.alerts[slack.name]?.[session] ?? {}
}

/** The stream session a live or ended event is about: its record, and what was posted for it so far. */
async function sessionOf(slack: Slack, event: HookEvent) {
  const session = String(event.data?.session ?? '')
  const streamId = event.streamId!
  const record = (await slack.deps.streams.get(streamId))?.record
  return { session, streamId, record, done: posted(slack, record, session) }
}

async function onLive(slack: Slack, event: HookEvent, signal?: AbortSignal): Promise<void> {
  const { deps } = slack
  const { session, streamId, record, done } = await sessionOf(slack, event)
  if (done.live || done.liveFile) return // already posted (a redelivery)
  const current = record?.session === session ? record : undefined
  const deadline = event.receivedAt + slack.config.thumbnailWait
  if (current && !current.firstThumbnail && deps.now() < deadline) {
    throw new DeliveryDeferred("waiting for the stream's first thumbnail", Math.min(deadline, deps.now() + 1_000))
  }
  const activeFeeds = current ? activeFeedIds(current).length : 0
  const facts = {
    streamId,
    ...(event.accountId ? { accountId: event.accountId } : {}),
    liveSince: Number(event.data?.liveSince ?? event.timestamp),
    feeds: Math.max(activeFeeds, (event.data?.feeds as unknown[] | undefined)?.length ?? 0),
  }
  const keep = (fields: Record<string, string>) => remember(slack, streamId, session, fields)
  await slack.mode.live(event, facts, current?.firstThumbnail, keep, signal)
}

async function onEnded(slack: Slack, event: HookEvent, signal?: AbortSignal): Promise<void> {
  const { deps } = slack
  const { session, streamId, record, done } = await sessionOf(slack, event)
  if (done.ended) return
  if (!done.live && !done.liveFile && deps.now() < event.receivedAt + slack.config.thumbnailWait + ENDED_WAITS_MS) {
    throw new DeliveryDeferred('waiting for the live message to be posted first', deps.now() + 1_000)
  }
  const times = {
    liveSince: typeof event.data?.liveSince === 'number' ? event.data.liveSince : undefined,
    endedAt: typeof event.data?.endedAt === 'number' ? event.data.endedAt : event.timestamp,
  }
  const liveTs = done.live && done.live !== 'posted' ? done.live : undefined
  const ts = await slack.mode.ended(event, times, record?.latestThumbnail, liveTs, signal)
  await remember(slack, streamId, session, { ended: ts ?? 'posted' })
}

async function onMedia(slack: Slack, event: HookEvent, signal?: AbortSignal): Promise<void> {
  const { deps, mode } = slack
  const record = await findStream(deps.streams, event)
  const done = record?.session ? posted(slack, record, record.session) : {}
  if (
    mode.threads &&
    record?.session &&
    !done.live &&
    deps.now() < event.receivedAt + slack.config.thumbnailWait + ENDED_WAITS_MS
  ) {
    // The stream's live message is still to be posted (or its ts looked up): wait, to answer in its thread.
    throw new DeliveryDeferred('waiting for the live message, to reply in its thread', deps.now() + 1_000)
  }
  const thread = mode.threads ? done.live : undefined
  await mode.media(event, thread && thread !== 'posted' ? thread : undefined, signal)
}

/** The stream a recording/media event belongs to: by id, else (recordings carry only a name) by name. */
async function findStream(streams: StreamStore, event: HookEvent): Promise<StreamRecord | undefined> {
  if (event.streamId) return (await streams.get(event.streamId))?.record
  return (await streams.list())
    .filter((r) => r.streamName === event.streamName)
    .sort((a, b) => b.updatedAt - a.updatedAt)[0]
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
