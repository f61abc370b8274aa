/**
 * The Slack notifier's side of stream health: each problem (`black`, `frozen`, `quiet`) and each `recovered` is a
 * reply in the live message's thread with the thumbnail the event names, and the live message itself is updated to
 * show the stream's health now. The event carries what it shows; the record only says what is open now (so replies
 * delivered out of order still leave the live message right) and what was posted (so nothing is posted twice).
 * @module
 */
import { DeliveryDeferred } from '../destinations/types.ts'
import type { HookEvent } from '../events/types.ts'
import type { HealthProblem, StreamRecord } from '../streams/stream-types.ts'
import { activeFeedIds } from '../streams/active-feeds.ts'
import { DEFAULT_TEMPLATES, healthMessage, liveMessage, slackDate } from './slack-messages.ts'
import { liveTsOf, remember, sessionOf, thumbnailOf, type Slack } from './slack-sessions.ts'
import { problemWords, recoveredWords, type HealthTimes } from './health-words.ts'

export const HEALTH_EVENTS = new Set(['black', 'frozen', 'quiet', 'recovered'])

/** A message that threads under the live message waits at most this long for it to be posted. */
export const LIVE_WAITS_MS = 60_000

const PROBLEMS: HealthProblem[] = ['black', 'frozen', 'quiet']

export async function onHealth(slack: Slack, event: HookEvent, signal?: AbortSignal): Promise<void> {
  const { deps, mode } = slack
  const { session, streamId, record, done } = await sessionOf(slack, event)
  const key = `health:${event.id}`
  if (done[key]) return // already posted (a redelivery)
  // An uploaded live message (`liveFile`) has no ts to reply to until Slack says where it was shared (`live`).
  if (mode.threads && !done.live && deps.now() < event.receivedAt + LIVE_WAITS_MS) {
    throw new DeliveryDeferred('waiting for the live message, to reply in its thread', deps.now() + 1_000)
  }
  const times = deps.healthTimes ?? {}
  const words = healthWords(event, times)
  const liveTs = liveTsOf(done)
  // Once the end is posted the live message says so: a late health event must not bring back "live".
  const current = record?.session === session && !done.ended ? record : undefined
  const update = liveTs && current ? liveUpdate(slack, event, current, times) : undefined
  const ts = await mode.health(
    event,
    (image) => healthMessage(event, words, image),
    thumbnailOf(event, record),
    { ...(liveTs ? { ts: liveTs } : {}), ...(update ? { update } : {}) },
    signal,
  )
  await remember(slack, streamId, session, { [key]: ts ?? 'posted' })
}

/** The stream's picture now, in words, from the record's health of its current session (undefined: not known). */
export function healthLine(r: StreamRecord, times: HealthTimes): string | undefined {
  const health = r.health
  if (!health || health.session !== r.session) return undefined
  const open = PROBLEMS.flatMap((problem) => {
    const found = health.open?.[problem]
    return found ? [`${problemWords(problem, times, found.measurements)} since ${slackDate(found.since)}`] : []
  })
  if (open.length > 0) return `:warning: ${open.join('; ')}`
  if (health.state === 'ok') return 'OK'
  return undefined
}

/** The live message again, with the health the record shows now (or, without it, what the event says). */
function liveUpdate(slack: Slack, event: HookEvent, r: StreamRecord, times: HealthTimes) {
  const fromEvent =
    event.event === 'recovered' ? 'OK' : `:warning: ${problemWords(event.event, times, event.data?.measurements)}`
  const facts = {
    streamId: r.streamId,
    ...(r.accountId ? { accountId: r.accountId } : {}),
    liveSince: r.liveSince ?? event.timestamp,
    feeds: activeFeedIds(r).length,
    health: healthLine(r, times) ?? fromEvent,
  }
  const template = slack.config.templates.live ?? DEFAULT_TEMPLATES.live
  return liveMessage(template, { ...event, event: 'live' }, facts, undefined, false)
}

/** What a health reply says: the problem or its recovery, since when, and what was measured. */
function healthWords(event: HookEvent, times: HealthTimes) {
  const data = event.data ?? {}
  const since = typeof data.since === 'number' ? data.since : undefined
  const recovered = event.event === 'recovered'
  const headline = recovered
    ? recoveredWords(data.problem, data.durationMs)
    : problemWords(event.event, times, data.measurements)
  const detail = recovered ? `It was: ${problemWords(data.problem, times)}.` : measured(event.event, data.measurements)
  return { headline, recovered, ...(since !== undefined ? { since } : {}), ...(detail ? { detail } : {}) }
}

/** The measurements of a problem in a sentence (values are numbers from hookcast, so safe in mrkdwn). */
function measured(problem: string, measurements: unknown): string | undefined {
  const m = (measurements ?? {}) as Record<string, unknown>
  const num = (key: string) => (typeof m[key] === 'number' ? (m[key] as number) : undefined)
  const luma = num('meanLuma')
  const dark = num('darkFraction')
  if (problem === 'black' && luma !== undefined && dark !== undefined)
    return `Mean brightness ${Math.round(luma)} of 255; ${Math.round(dark * 100)} % of the picture dark.`
  const count = num('thumbnails')
  const change = num('change')
  if (problem === 'frozen' && count !== undefined)
    return `${count} thumbnails in a row without change${change === undefined ? '' : ` (largest ${change} of 255)`}.`
  return undefined
}
