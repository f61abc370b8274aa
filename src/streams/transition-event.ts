/**
 * A stream's transition as an event of hookcast's own kind `stream` (`live`, `ended`), derived from feed hooks. It
 * goes through the same routes, queue and destinations as the platform's hooks, so it can be alerted on, stored or
 * forwarded like any other event.
 * @module
 */
import type { HookEvent } from '../events/types.ts'
import { createHash } from 'node:crypto'
import type { StreamRecord } from './stream-types.ts'
import { activeFeedIds } from './active-feeds.ts'
import { crcOf } from '../events/body-check.ts'

/** The source of hookcast's own events: transitions, and the tracker's checks. */
export const HOOKCAST_SOURCE = 'hookcast'

export async function transitionEvent(
  record: StreamRecord,
  kind: 'live' | 'ended',
  receivedAt: number,
): Promise<HookEvent> {
  const activeFeeds = activeFeedIds(record)
  const timestamp = kind === 'live' ? record.liveSince! : (record.endedAt ?? receivedAt)
  const data: Record<string, unknown> = {
    streamId: record.streamId,
    accountId: record.accountId,
    streamName: record.streamName,
    session: record.session,
    liveSince: record.liveSince,
    feeds: activeFeeds,
    ...(kind === 'ended'
      ? { endedAt: record.endedAt, durationMs: (record.endedAt ?? timestamp) - (record.liveSince ?? timestamp) }
      : {}),
    ...(record.firstThumbnail
      ? { firstThumbnail: { eventId: record.firstThumbnail.eventId, timestamp: record.firstThumbnail.timestamp } }
      : {}),
    ...(record.latestThumbnail
      ? { latestThumbnail: { eventId: record.latestThumbnail.eventId, timestamp: record.latestThumbnail.timestamp } }
      : {}),
  }
  const body = new TextEncoder().encode(JSON.stringify({ type: 'stream', event: kind, timestamp, data }))
  // One id per session and kind: emitting the same transition twice is one delivery.
  const id = createHash('sha256').update(`stream|${record.session}|${kind}`, 'utf8').digest('hex').slice(0, 24)
  return {
    id,
    source: HOOKCAST_SOURCE,
    type: 'stream',
    event: kind,
    timestamp,
    receivedAt,
    streamId: record.streamId,
    ...(record.streamName ? { streamName: record.streamName } : {}),
    ...(record.accountId ? { accountId: record.accountId } : {}),
    contentType: 'application/json',
    body,
    bodyCrc32: crcOf(body),
    data,
  }
}
