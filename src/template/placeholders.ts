/**
 * `{placeholder}` templates shared by storage keys and message texts.
 * @module
 */
import type { HookEvent } from '../events/types.ts'

const PLACEHOLDERS = [
  'source',
  'type',
  'event',
  'streamId',
  'streamName',
  'accountId',
  'feedId',
  'tokenId',
  'timestamp',
  'date',
  'time',
  'id',
  'ext',
] as const

export type Placeholder = (typeof PLACEHOLDERS)[number]

const PATTERN = /\{([A-Za-z]+)\}/g

/** Names in `template` that are not placeholders; empty when the template is valid. */
export function unknownPlaceholders(template: string): string[] {
  return [...template.matchAll(PATTERN)].map((m) => m[1]!).filter((name) => !PLACEHOLDERS.includes(name as Placeholder))
}

/** The value of each placeholder for an event; undefined where the event does not carry it. */
export function placeholderValues(event: HookEvent): Record<Placeholder, string | undefined> {
  const date = new Date(event.timestamp)
  const iso = Number.isNaN(date.getTime()) ? undefined : date.toISOString() // an out-of-range time has no date
  return {
    source: event.source,
    type: event.type,
    event: event.event,
    streamId: event.streamId,
    streamName: event.streamName,
    accountId: event.accountId,
    feedId: event.feedId,
    tokenId: event.tokenId,
    timestamp: String(event.timestamp),
    date: iso?.slice(0, 10),
    time: iso?.slice(11, 19).replace(/:/g, ''),
    id: event.id,
    ext: event.contentType === 'image/jpeg' ? 'jpg' : 'json',
  }
}

/** Fills a message template; a missing value becomes `missing`. */
export function renderText(template: string, event: HookEvent, missing = '-'): string {
  const values = placeholderValues(event)
  return template.replace(PATTERN, (whole, name: string) =>
    name in values ? (values[name as Placeholder] ?? missing) : whole,
  )
}
