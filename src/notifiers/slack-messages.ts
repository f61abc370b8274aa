/**
 * The Block Kit messages of the Slack notifier. Headlines come from templates with the sink-key placeholders,
 * plus {duration} {feeds} {liveSince} {endedAt}.
 * @module
 */
import type { HookEvent } from '../events/types.ts'
import { renderText } from '../template/placeholders.ts'

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
}

export function liveMessage(template: string, event: HookEvent, facts: LiveFacts, image: Image, missingImage: boolean): { text: string; blocks: Block[] } {
  const text = headline(template, event, { feeds: String(facts.feeds), liveSince: iso(facts.liveSince) })
  const blocks: Block[] = [
    section(text),
    fields([['Stream', facts.streamId], ['Account', facts.accountId ?? '-'], ['Live since', slackDate(facts.liveSince)], ['Feeds', String(facts.feeds)]]),
  ]
  if (image && 'url' in image) blocks.push(imageBlock(image.url, event.streamName ?? facts.streamId))
  if (missingImage) blocks.push(context('No thumbnail arrived in time; it will be in the thread when the stream ends.'))
  return { text: plain(text), blocks }
}

export function endedMessage(template: string, event: HookEvent, liveSince: number | undefined, endedAt: number, image: Image): { text: string; blocks: Block[] } {
  const duration = liveSince === undefined ? 'an unknown time' : formatDuration(endedAt - liveSince)
  const text = headline(template, event, { duration, liveSince: liveSince ? iso(liveSince) : '-', endedAt: iso(endedAt) })
  const blocks: Block[] = [
    section(text),
    fields([['Stream', event.streamId ?? '-'], ['Live', liveSince ? `${slackDate(liveSince)} – ${slackDate(endedAt)}` : slackDate(endedAt)], ['Duration', duration]]),
  ]
  if (image && 'url' in image) blocks.push(imageBlock(image.url, `last thumbnail of ${event.streamName ?? event.streamId}`))
  return { text: plain(text), blocks }
}

export function mediaMessage(template: string, event: HookEvent): { text: string; blocks: Block[] } {
  const text = headline(template, event, {})
  const details = event.data ?? {}
  const rows: Array<[string, string]> = [['Stream', event.streamId ?? event.streamName ?? '-']]
  for (const key of ['recordFileId', 'mediaAssetId', 'type', 'streamName']) {
    if (details[key] !== undefined && key !== 'streamName') rows.push([key, String(details[key])])
  }
  return { text: plain(text), blocks: [section(text), fields(rows)] }
}

function headline(template: string, event: HookEvent, extra: Record<string, string>): string {
  const filled = template.replace(/\{(duration|feeds|liveSince|endedAt)\}/g, (_, name: string) => extra[name] ?? '-')
  return renderText(filled, event)
}

const section = (text: string): Block => ({ type: 'section', text: { type: 'mrkdwn', text } })
const context = (text: string): Block => ({ type: 'context', elements: [{ type: 'mrkdwn', text }] })
const fields = (rows: Array<[string, string]>): Block => ({
  type: 'section',
  fields: rows.map(([name, value]) => ({ type: 'mrkdwn', text: `*${name}*\n${value}` })),
})
const imageBlock = (url: string, alt: string): Block => ({ type: 'image', image_url: url, alt_text: alt.slice(0, 2000) })

/** Slack's date formatting, shown in each reader's time zone, with an ISO fallback. */
function slackDate(ms: number): string {
  return `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time_secs}|${iso(ms)}>`
}

const iso = (ms: number) => new Date(ms).toISOString()
const plain = (mrkdwn: string) => mrkdwn.replace(/[*_~]/g, '')

export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000))
  const h = Math.floor(seconds / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = seconds % 60
  return h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s}s` : `${s}s`
}
