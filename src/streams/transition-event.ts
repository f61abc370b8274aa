/**
 * A stream's transitions as events of hookcast's own kind `stream`: `live` and `ended` from its feeds, and the
 * health events (`black`, `frozen`, `quiet`, `recovered`) from its thumbnails. They go through the same routes, queue
 * and destinations as the platform's hooks, so they can be alerted on, stored or forwarded like any other event.
 * @module
 */
import type { HookEvent } from '../events/types.ts'
import { createHash } from 'node:crypto'
import type { HealthNotice, StreamRecord, ThumbnailRef } from './stream-types.ts'
import { activeFeedIds } from './active-feeds.ts'
import { crcOf } from '../events/body-check.ts'

/** The source of hookcast's own events: transitions, and the tracker's checks. */
export const HOOKCAST_SOURCE = 'hookcast'

const brief = (ref: ThumbnailRef) => ({ eventId: ref.eventId, timestamp: ref.timestamp })

export async function transitionEvent(
  record: StreamRecord,
  kind: 'live' | 'ended',
  receivedAt: number,
): Promise<HookEvent> {
  const timestamp = kind === 'live' ? record.liveSince! : (record.endedAt ?? receivedAt)
  const first = record.firstThumbnail ? brief(record.firstThumbnail) : undefined
  const data: Record<string, unknown> = {
    ...streamFields(record),
    liveSince: record.liveSince,
    feeds: activeFeedIds(record),
    ...(kind === 'ended' ? endedFields(record, timestamp) : {}),
    // `thumbnail` is what the event shows; `firstThumbnail` stays for receivers written before it.
    ...(first ? { ...(kind === 'live' ? { thumbnail: first } : {}), firstThumbnail: first } : {}),
    ...(record.latestThumbnail ? { latestThumbnail: brief(record.latestThumbnail) } : {}),
  }
  return streamEvent(record, kind, timestamp, receivedAt, data, `stream|${record.session}|${kind}`)
}

/** A health event of the record's session, as its notice says. */
export async function healthEvent(record: StreamRecord, notice: HealthNotice, receivedAt: number): Promise<HookEvent> {
  const data = { ...streamFields(record), ...notice.data }
  const identity = `stream|${record.session}|${notice.event}|${notice.seq}`
  return streamEvent(record, notice.event, notice.at, receivedAt, data, identity)
}

function streamFields(record: StreamRecord): Record<string, unknown> {
  return {
    streamId: record.streamId,
    accountId: record.accountId,
    streamName: record.streamName,
    session: record.session,
  }
}

function endedFields(record: StreamRecord, timestamp: number): Record<string, unknown> {
  const open = record.health?.session === record.session ? (record.health?.openAtEnd ?? []) : []
  return {
    endedAt: record.endedAt,
    durationMs: (record.endedAt ?? timestamp) - (record.liveSince ?? timestamp),
    endedBy: record.endedBy ?? 'hook',
    ...(record.lastHeardAt !== undefined ? { lastHeardAt: record.lastHeardAt } : {}),
    health: { open },
  }
}

/** The event, with an id made of `identity`: handing the same one on twice is one delivery. */
function streamEvent(
  record: StreamRecord,
  kind: string,
  timestamp: number,
  receivedAt: number,
  data: Record<string, unknown>,
  identity: string,
): HookEvent {
  const body = new TextEncoder().encode(JSON.stringify({ type: 'stream', event: kind, timestamp, data }))
  return {
    id: createHash('sha256').update(identity, 'utf8').digest('hex').slice(0, 24),
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
