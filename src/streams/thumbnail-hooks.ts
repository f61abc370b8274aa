/**
 * A thumbnail hook kept as its stream's latest, and as its session's first when it is one. The latest changes every
 * 30 s and a crash may lose it, so it waits in memory (latest-thumbnails.ts); what an event refers to must survive a
 * crash, so it is written at once: a session's first (the `live` event waits for it), a picture of a live session
 * (its health may raise a problem), the thumbnail that ends a `quiet` or shows the publisher back after a silence.
 * Which one is the first is settled in the write, against the record as it is then.
 * @module
 */
import type { HookEvent } from '../events/types.ts'
import { eventMeta } from '../queue/loaded-event.ts'
import type { PictureSample } from '../health/picture.ts'
import { latestThumbnails, type LatestThumbnails } from './latest-thumbnails.ts'
import {
  applyFeed,
  boundedTime,
  claimTransitions,
  isFirstOfSession,
  roomForFeed,
  takeThumbnail,
  THUMBNAIL_SLACK_MS,
} from './lifecycle-rules.ts'
import { takePicture, thumbnailCame } from './health-rules.ts'
import { revivesAfterSilence } from './silence-rules.ts'
import { leftWork, nextCheckAt, owedCheck } from './next-check.ts'
import { handOn, toHandOn } from './hand-on.ts'
import { readRecord } from './stream-store.ts'
import { STREAM_LIMITS, type StreamRecord, type ThumbnailRef, type Transition } from './stream-types.ts'
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
  // A redelivery whose first attempt wrote, then failed or died before handing on: it carries on what it left.
  const carriesOn = leftWork(current, event.id)
  if (ref.timestamp < newest && !isFirst && !carriesOn) return
  if (current && !Object.hasOwn(current.feeds, event.feedId ?? '')) {
    // The metadata headers are not signed: a feed id we never heard of is worth a line in the log.
    ctx.log.debug('thumbnail for a feed not seen in feed hooks', { stream: streamId, feed: event.feedId })
  }
  const picture = await lookAt(ctx, current, ref, event.body)
  const quiet = current?.health?.session === current?.session && current?.health?.open.quiet !== undefined
  const atOnce =
    isFirst || picture || quiet || revivesAfterSilence(current, ref) || durableCandidate(current, ref) || carriesOn
  if (!atOnce) return held.hold(streamId, ref, event.body)
  if (!(await ctx.store.putThumbnail(ref, event.body))) return
  await takeAtOnce(ctx, event, ref, picture)
}

/** The picture of a live session's thumbnail, when picture health is on and it could be looked at. */
async function lookAt(
  ctx: TrackerContext,
  current: StreamRecord | undefined,
  ref: ThumbnailRef,
  jpeg: Uint8Array,
): Promise<PictureSample | undefined> {
  if (!ctx.looks || current?.status !== 'live' || !current.session) return undefined
  if (ref.timestamp < (current.liveSince ?? 0) - THUMBNAIL_SLACK_MS) return undefined // of an earlier session
  const health = current.health?.session === current.session ? current.health : undefined
  const thumbnail = { streamId: current.streamId, session: current.session, eventId: ref.eventId }
  return ctx.looks.look({ ...thumbnail, timestamp: ref.timestamp, lastLookedAt: health?.lookedAt }, jpeg)
}

/**
 * Writes the thumbnail into the record at once, with what it brings: a session back after a silence, `quiet` over,
 * its picture's health; then hands on what that made due (`live` once the first thumbnail is in).
 */
async function takeAtOnce(
  ctx: TrackerContext,
  event: HookEvent,
  ref: ThumbnailRef,
  picture: PictureSample | undefined,
): Promise<void> {
  const { settings } = ctx
  let claimed: Transition[] = []
  let own: StreamRecord | undefined
  let wake: number | undefined
  const written = await changeOrCreate(ctx, ref.event.streamId!, (r) => {
    const before = nextCheckAt(r, settings)
    if (revivesAfterSilence(r, ref) && roomForFeed(r, ref.feedId!))
      applyFeed(r, ref.feedId!, 'started', ref.timestamp, ctx.now())
    takeThumbnail(r, ref, event)
    thumbnailCame(r, ref)
    if (picture && settings.health) takePicture(r, picture, ref, settings.health)
    claimed = claimTransitions(r, event.id, ctx.now(), settings.thumbnailWaitMs)
    wake = owedCheck(before, r, settings, event.id, ctx.now())
    own = toHandOn(r, claimed, wake)
  })
  if (written && own) await handOn(ctx, own, event.id, claimed, wake)
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
