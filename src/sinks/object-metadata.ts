/**
 * The metadata stored with each cloud object, so a bucket can be browsed and filtered without opening bodies.
 * @module
 */
import type { HookEvent } from '../events/types.ts'

const MAX_VALUE = 256

/**
 * `stream-id`, `feed-id`, `type`, `event`, `timestamp` (epoch ms) and `hook-id`; absent values are left out.
 * Names are lower case because S3 lower-cases them anyway, and values printable ASCII because S3 sends them
 * as HTTP headers: anything else is percent-encoded as UTF-8.
 */
export function objectMetadata(event: HookEvent): Record<string, string> {
  const fields: Record<string, string | undefined> = {
    'stream-id': event.streamId,
    'feed-id': event.feedId,
    type: event.type,
    event: event.event,
    timestamp: String(event.timestamp),
    'hook-id': event.id,
  }
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(fields)) {
    const safe = value === undefined ? '' : asciiValue(value)
    if (safe !== '') out[name] = safe
  }
  return out
}

function asciiValue(value: string): string {
  const encoder = new TextEncoder()
  const ascii = value.replace(/[^\x20-\x7e]/gu, (char) =>
    [...encoder.encode(char)].map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  )
  return ascii.trim().slice(0, MAX_VALUE)
}
