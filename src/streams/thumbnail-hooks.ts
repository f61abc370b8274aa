/**
 * A thumbnail hook kept as its stream's latest, and as its session's first when it is one. The latest changes every
 * 30 s and a crash may lose it, so it waits in memory (latest-thumbnails.ts); a session's first must survive a crash
 * (it is in the live alert), so it is written at once. Which one is the first is settled in the write, against the
 * record as it is then.
 * @module
 */
import type { HookEvent } from '../events/types.ts'
import { eventMeta } from '../queue/loaded-event.ts'
import { latestThumbnails, type LatestThumbnails } from './latest-thumbnails.ts'
import { boundedTime, isFirstOfSession, takeThumbnail } from './lifecycle-rules.ts'
import { readRecord } from './stream-store.ts'
import { STREAM_LIMITS, type StreamRecord, type ThumbnailRef } from './stream-types.ts'
import { changeOrCreate, type TrackerContext } from './tracker-context.ts'

/** A stream that is not live keeps its newest thumbnail durably at most this often (see durableCandidate). */
const DURABLE_CANDIDATE_MS = 1_000

/** The latest thumbnails waiting in memory, written to the store and the record a second later. */
export function heldThumbnails(ctx: TrackerContext): LatestThumbnails {
  return latestThumbnails({
    failed: (message, fields, error) => ctx.report.failed('latest-thumbnail', message, fields, error),
    async write(ref, body) {
      if (!(await ctx.store.putThumbnail(ref, body))) return
      await changeOrCreate(ctx, ref.event.streamId!, (r) => takeThumbnail(r, ref, ref.event), { lazy: true })
    },
  })
}

export async function trackThumbnail(ctx: TrackerContext, held: LatestThumbnails, event: HookEvent): Promise<void> {
  const streamId = event.streamId!
  if (streamId.length > STREAM_LIMITS.streamIdLength) {
    ctx.report.limit('stream_id_too_long')
    return
  }
  const ref = thumbnailRef(ctx, event, streamId)
  const current = (await readRecord(ctx.store, streamId))?.record
  const newest = Math.max(
    current?.latestThumbnail?.timestamp ?? -Infinity,
    held.pendingTimestamp(streamId) ?? -Infinity,
  )
  const isFirst = isFirstOfSession(current, ref)
  if (ref.timestamp < newest && !isFirst) return
  if (current && !Object.hasOwn(current.feeds, event.feedId ?? '')) {
    // The metadata headers are not signed: a feed id we never heard of is worth a line in the log.
    ctx.log.debug('thumbnail for a feed not seen in feed hooks', { stream: streamId, feed: event.feedId })
  }
  if (!isFirst && !durableCandidate(current, ref)) return held.hold(streamId, ref, event.body)
  if (!(await ctx.store.putThumbnail(ref, event.body))) return
  await changeOrCreate(ctx, streamId, (r) => takeThumbnail(r, ref, event))
}

/** The thumbnail as a record refers to it, its time bounded by its receipt (a time ahead is counted and logged). */
function thumbnailRef(ctx: TrackerContext, event: HookEvent, streamId: string): ThumbnailRef {
  const meta = eventMeta(event)
  const timestamp = boundedTime(event.timestamp, event.receivedAt)
  if (timestamp !== event.timestamp) {
    ctx.report.limit('future_timestamp')
    ctx.log.warn('thumbnail time is ahead of its receipt; taken as received', {
      id: event.id,
      stream: streamId,
      stated: event.timestamp,
      receivedAt: event.receivedAt,
    })
  }
  return { eventId: event.id, timestamp, ...(event.feedId ? { feedId: event.feedId } : {}), event: meta }
}

/**
 * Whether a thumbnail that is not its session's first is written at once all the same: before the session's
 * `started` is known (no session live), it may become the first, so it is kept durably, unless the one kept is less
 * than a second older (the platform sends one per 30 s; a flood of them for a stream that is not live would
 * otherwise cost two writes each, and a crash loses at most that second).
 */
export function durableCandidate(current: StreamRecord | undefined, ref: ThumbnailRef): boolean {
  const mayBecomeFirst = !current || current.status === 'ended'
  const kept = current?.latestThumbnail
  const keptIsRecent = kept !== undefined && ref.timestamp - kept.timestamp < DURABLE_CANDIDATE_MS
  return mayBecomeFirst && !keptIsRecent
}
