/**
 * The Block Kit messages of the Slack notifier. Headlines come from templates with the sink-key placeholders,
 * plus {duration} {feeds} {liveSince} {endedAt}. The template is the operator's mrkdwn; every value put into it
 * (or into a field) that hookcast did not write goes through `escapeMrkdwn`.
 * @module
 */
import type { HookEvent } from '../events/types.ts'
import { placeholderValues, type Placeholder } from '../template/placeholders.ts'
import { escapeMrkdwn, stripFormatting } from './slack-text.ts'

export const DEFAULT_TEMPLATES = {
  live: ':red_circle: *{streamName}* is live',
  ended: ':black_circle: *{streamName}* ended after {duration}',
  media: ':film_frames: {type} {event} for *{streamName}*',
}

export type Templates = typeof DEFAULT_TEMPLATES

export type Image = { url: string } | { fileId: string } | undefined

type Block = Record<string, unknown>

export interface LiveFacts {
  accountId?: string
  streamId: string
  liveSince: number
  feeds: number
  /** The picture's health in words ("OK", "black picture since …"), already safe mrkdwn; unknown: not shown. */
  health?: string
}

export function liveMessage(
  template: string,
  event: HookEvent,
  facts: LiveFacts,
  image: Image,
  missingImage: boolean,
): { text: string; blocks: Block[] } {
  const extra = { feeds: String(facts.feeds), liveSince: iso(facts.liveSince) }
  const blocks: Block[] = [
    section(headline(template, event, extra)),
    fields([
      ['Stream', escapeMrkdwn(facts.streamId)],
      ['Account', escapeMrkdwn(facts.accountId ?? '-')],
      ['Live since', slackDate(facts.liveSince)],
      ['Feeds', String(facts.feeds)],
      ...(facts.health ? [['Picture', facts.health] as [string, string]] : []),
    ]),
  ]
  if (image && 'url' in image) blocks.push(imageBlock(image.url, event.streamName ?? facts.streamId))
  if (missingImage) blocks.push(context('No thumbnail arrived in time; it will be in the thread when the stream ends.'))
  return { text: fallback(template, event, extra), blocks }
}

export function endedMessage(
  template: string,
  event: HookEvent,
  liveSince: number | undefined,
  endedAt: number,
  image: Image,
  notes: EndNotes = {},
): { text: string; blocks: Block[] } {
  const duration = liveSince === undefined ? 'an unknown time' : formatDuration(endedAt - liveSince)
  const extra = { duration, liveSince: liveSince ? iso(liveSince) : '-', endedAt: iso(endedAt) }
  const blocks: Block[] = [
    section(headline(template, event, extra)),
    fields([
      ['Stream', escapeMrkdwn(event.streamId ?? '-')],
      ['Live', liveSince ? `${slackDate(liveSince)} – ${slackDate(endedAt)}` : slackDate(endedAt)],
      ['Duration', duration],
      ...(notes.endedBy ? [['Ended by', notes.endedBy] as [string, string]] : []),
      ...(notes.openAtEnd ? [['Picture at the end', notes.openAtEnd] as [string, string]] : []),
    ]),
  ]
  if (image && 'url' in image)
    blocks.push(imageBlock(image.url, `last thumbnail of ${event.streamName ?? event.streamId}`))
  return { text: fallback(template, event, extra), blocks }
}

/** What an end message says beyond its times, in hookcast's own words (safe mrkdwn). */
export interface EndNotes {
  /** Why it ended when no `ended` hook came: "no hooks for 10 min". */
  endedBy?: string
  /** Problems still open when it ended: "black picture". */
  openAtEnd?: string
}

/** A health event in a stream's thread: a problem ("black picture") or its recovery, with the picture that shows it. */
export function healthMessage(
  event: HookEvent,
  words: { headline: string; since?: number; detail?: string; recovered: boolean },
  image: Image,
): { text: string; blocks: Block[] } {
  const name = escapeMrkdwn(event.streamName ?? event.streamId ?? '-')
  const mark = words.recovered ? ':white_check_mark:' : ':warning:'
  const rows: Array<[string, string]> = [['Stream', escapeMrkdwn(event.streamId ?? '-')]]
  if (words.since !== undefined) rows.push([words.recovered ? 'Problem began' : 'Since', slackDate(words.since)])
  const blocks: Block[] = [section(`${mark} *${name}*: ${words.headline}`), fields(rows)]
  if (words.detail) blocks.push(context(words.detail))
  if (image && 'url' in image) blocks.push(imageBlock(image.url, `${words.headline}: ${event.streamName ?? ''}`))
  return { text: `${mark} ${name}: ${words.headline}`, blocks }
}

export function mediaMessage(template: string, event: HookEvent): { text: string; blocks: Block[] } {
  const details = event.data ?? {}
  const rows: Array<[string, string]> = [['Stream', escapeMrkdwn(event.streamId ?? event.streamName ?? '-')]]
  for (const key of ['recordFileId', 'mediaAssetId', 'type']) {
    if (details[key] !== undefined) rows.push([key, escapeMrkdwn(String(details[key]))])
  }
  return { text: fallback(template, event, {}), blocks: [section(headline(template, event, {})), fields(rows)] }
}

const PLACEHOLDER = /\{([A-Za-z]+)\}/g
const OURS = new Set(['duration', 'feeds', 'liveSince', 'endedAt'])

/**
 * Fills a template in one pass (so a value that looks like a placeholder is not filled again): our own values as
 * they are, the event's escaped. Unknown names stay as written, as in sink keys.
 */
function headline(template: string, event: HookEvent, extra: Record<string, string>): string {
  const values = placeholderValues(event)
  return template.replace(PLACEHOLDER, (whole, name: string) => {
    if (OURS.has(name)) return extra[name] ?? '-'
    if (!Object.hasOwn(values, name)) return whole
    return escapeMrkdwn(values[name as Placeholder] ?? '-')
  })
}

/** The notification text: the headline without the template's formatting marks (emoji names and values kept whole). */
const fallback = (template: string, event: HookEvent, extra: Record<string, string>) =>
  headline(stripFormatting(template), event, extra)

// `verbatim`: Slack does not link bare URLs, channels or mentions in these texts (our own <!date> tokens still work).
const mrkdwn = (text: string) => ({ type: 'mrkdwn', text, verbatim: true })
const section = (text: string): Block => ({ type: 'section', text: mrkdwn(text) })
const context = (text: string): Block => ({ type: 'context', elements: [mrkdwn(text)] })
/** Rows of a name and an already safe mrkdwn value. */
const fields = (rows: Array<[string, string]>): Block => ({
  type: 'section',
  fields: rows.map(([name, value]) => mrkdwn(`*${name}*\n${value}`)),
})
// alt_text is plain text (Slack shows it verbatim), so it needs no escaping, only Slack's length limit.
const imageBlock = (url: string, alt: string): Block => ({
  type: 'image',
  image_url: url,
  alt_text: alt.slice(0, 2000),
})

/** Slack's date formatting, shown in each reader's time zone, with an ISO fallback. */
export function slackDate(ms: number): string {
  return `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time_secs}|${iso(ms)}>`
}

const iso = (ms: number) => new Date(ms).toISOString()

function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000))
  const h = Math.floor(seconds / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = seconds % 60
  return h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s}s` : `${s}s`
}
