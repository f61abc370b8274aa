/**
 * The Slack notifier: a "live" message per stream session with the thumbnail its event names, health problems and
 * recoveries in its thread (slack-health.ts), an "ended" update with the duration and last thumbnail, and
 * recording/media results in the same thread. This file decides what to post when (a message for the thread waits
 * for the live message) and remembers what was posted with the stream (slack-sessions.ts). How it is posted is the
 * mode's: an incoming webhook or a bot.
 * @module
 */
import { DeliveryDeferred, type Destination } from '../destinations/types.ts'
import type { HookEvent } from '../events/types.ts'
import type { StreamRecord } from '../streams/stream-types.ts'
import type { StreamStore } from '../streams/stream-store.ts'
import type { SlackNotifierConfig } from '../config/slack-notifier.ts'
import { DEFAULT_TEMPLATES } from './slack-messages.ts'
import type { SlackMode, SlackModeOptions } from './slack-mode.ts'
import { createWebhookMode } from './slack-webhook.ts'
import { createBotMode } from './slack-bot.ts'
import { activeFeedIds } from '../streams/active-feeds.ts'
import { liveTsOf, posted, remember, sessionOf, thumbnailOf, type NotifierDeps, type Slack } from './slack-sessions.ts'
import { HEALTH_EVENTS, healthLine, LIVE_WAITS_MS, onHealth } from './slack-health.ts'
import { endedByWords, problemWords } from './health-words.ts'

export type { NotifierDeps }

/** Events this notifier posts about; anything else routed to it is accepted and ignored. */
const MEDIA_EVENTS = new Set(['recordings:completed', 'recordings:error', 'media:completed', 'media:errored'])

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
  if (config.thumbnailWait !== undefined) {
    deps.log.warn('a Slack notifier thumbnailWait is ignored: the live event waits (streams.thumbnailWait)', {
      notifier: name,
    })
  }
  return {
    name,
    kind: 'notifier',
    check: () => slack.mode.check(),
    async deliver(event, signal) {
      if (event.type === 'stream' && event.streamId) {
        if (event.event === 'live') return onLive(slack, event, signal)
        if (event.event === 'ended') return onEnded(slack, event, signal)
        if (HEALTH_EVENTS.has(event.event)) return onHealth(slack, event, signal)
      }
      if (MEDIA_EVENTS.has(`${event.type}:${event.event}`)) return onMedia(slack, event, signal)
    },
  }
}

/** The live message, with the thumbnail the event names (it waited for the session's first one). */
async function onLive(slack: Slack, event: HookEvent, signal?: AbortSignal): Promise<void> {
  const { session, streamId, record, done } = await sessionOf(slack, event)
  const keep = (fields: Record<string, string>) => remember(slack, streamId, session, fields)
  if (done.live) return // already posted (a redelivery)
  // Uploaded, but where it went was never learnt: asked again, so that replies can thread under it.
  if (done.liveFile) return slack.mode.liveShared?.(done.liveFile, streamId, keep, signal)
  const current = record?.session === session ? record : undefined
  const activeFeeds = current ? activeFeedIds(current).length : 0
  const health = current && healthLine(current, slack.deps.healthTimes ?? {})
  const facts = {
    streamId,
    ...(event.accountId ? { accountId: event.accountId } : {}),
    liveSince: Number(event.data?.liveSince ?? event.timestamp),
    feeds: Math.max(activeFeeds, (event.data?.feeds as unknown[] | undefined)?.length ?? 0),
    ...(health ? { health } : {}),
  }
  // A `live` handed on early (its feed ended before the first thumbnail came) names none: then take the session's
  // first thumbnail if it has come since. One read, never a wait.
  const thumbnail =
    thumbnailOf(event, record) ?? thumbnailOf(event, record, 'firstThumbnail') ?? current?.firstThumbnail
  await slack.mode.live(event, facts, thumbnail, keep, signal)
}

async function onEnded(slack: Slack, event: HookEvent, signal?: AbortSignal): Promise<void> {
  const { deps } = slack
  const { session, streamId, record, done } = await sessionOf(slack, event)
  if (done.ended) return
  // An uploaded live message (`liveFile`) is updated and replied to by its ts (`live`): that must be known first.
  if (!done.live && deps.now() < event.receivedAt + LIVE_WAITS_MS) {
    throw new DeliveryDeferred('waiting for the live message to be posted first', deps.now() + 1_000)
  }
  const times = {
    liveSince: typeof event.data?.liveSince === 'number' ? event.data.liveSince : undefined,
    endedAt: typeof event.data?.endedAt === 'number' ? event.data.endedAt : event.timestamp,
    notes: endNotes(slack, event),
  }
  const last = thumbnailOf(event, record, 'latestThumbnail') ?? record?.latestThumbnail
  const ts = await slack.mode.ended(event, times, last, liveTsOf(done), signal)
  await remember(slack, streamId, session, { ended: ts ?? 'posted' })
}

/** Why the session ended when the platform did not say, and the problems still open then, in words. */
function endNotes(slack: Slack, event: HookEvent) {
  const times = slack.deps.healthTimes ?? {}
  const endedBy = endedByWords(event.data?.endedBy, times)
  const open = (event.data?.health as { open?: unknown } | undefined)?.open
  const openAtEnd = Array.isArray(open) && open.length > 0 ? open.map((p) => problemWords(p, times)).join(', ') : ''
  return { ...(endedBy ? { endedBy } : {}), ...(openAtEnd ? { openAtEnd } : {}) }
}

async function onMedia(slack: Slack, event: HookEvent, signal?: AbortSignal): Promise<void> {
  const { deps, mode } = slack
  const record = await findStream(deps.streams, event)
  const done = record?.session ? posted(slack, record, record.session) : {}
  if (mode.threads && record?.session && !done.live && deps.now() < event.receivedAt + LIVE_WAITS_MS) {
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
