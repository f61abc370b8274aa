/**
 * A stream as the page and `/api/streams` show it: its session, feeds, latest thumbnail, and the health of its
 * current session's picture. Only `health.state` and `health.open` of a record are read (the rest is the tracker's
 * bookkeeping), and a record without them (written before picture health, or with it off) is shown without.
 * @module
 */
import type { HealthProblem, StreamRecord, ThumbnailRef } from '../streams/stream-types.ts'
import { activeFeedIds } from '../streams/active-feeds.ts'
import { HEALTH_STATES, type HealthState } from './metrics.ts'

const PROBLEMS: HealthProblem[] = ['black', 'frozen', 'quiet']

/** The page's address of one of the stream's thumbnails (the latest, or the one a problem names). */
function thumbnailView(record: StreamRecord, ref: ThumbnailRef, which?: string) {
  const url = `/api/streams/${encodeURIComponent(record.streamId)}/thumbnail`
  return {
    eventId: ref.eventId,
    timestamp: ref.timestamp,
    url: which ? `${url}?event=${encodeURIComponent(which)}` : url,
  }
}

/** The health of the record's current session, or undefined when it has none (not looked at, or an old record). */
function currentHealth(record: StreamRecord) {
  const health = record.health
  return health && health.session === record.session ? health : undefined
}

/** A live stream's health state for the gauge: `unknown` when its picture was not looked at. */
export function healthStateOf(record: StreamRecord): HealthState {
  const state = currentHealth(record)?.state
  return state && (HEALTH_STATES as readonly string[]).includes(state) ? state : 'unknown'
}

/** The health the page shows: the state, and each open problem with since when and the picture that shows it. */
function healthView(record: StreamRecord) {
  const health = currentHealth(record)
  if (!health) return null
  const problems = PROBLEMS.flatMap((problem) => {
    const open = health.open?.[problem]
    if (!open) return []
    const thumbnail = open.thumbnail ? thumbnailView(record, open.thumbnail, open.thumbnail.eventId) : null
    return [{ problem, since: open.since, measurements: open.measurements ?? {}, thumbnail }]
  })
  return { state: healthStateOf(record), problems }
}

export function streamView(record: StreamRecord) {
  return {
    streamId: record.streamId,
    accountId: record.accountId,
    streamName: record.streamName,
    status: record.status,
    liveSince: record.liveSince,
    endedAt: record.endedAt,
    ...(record.endedBy ? { endedBy: record.endedBy } : {}),
    ...(record.lastHeardAt !== undefined ? { lastHeardAt: record.lastHeardAt } : {}),
    feeds: activeFeedIds(record).length,
    latestThumbnail: record.latestThumbnail ? thumbnailView(record, record.latestThumbnail) : null,
    health: healthView(record),
    updatedAt: record.updatedAt,
  }
}

/** Whether `eventId` is a thumbnail the record refers to (the page may ask for those, and only those). */
export function refersTo(record: StreamRecord, eventId: string): ThumbnailRef | undefined {
  const open = PROBLEMS.map((problem) => record.health?.open?.[problem]?.thumbnail)
  const refs = [record.latestThumbnail, record.firstThumbnail, ...open, ...(record.health?.shown ?? [])]
  return refs.find((ref) => ref?.eventId === eventId)
}
