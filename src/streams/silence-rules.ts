/**
 * Ending a session nobody hears from, as pure functions over a StreamRecord. The platform never resends a hook, so
 * a lost `ended` would leave a stream live forever: a live session with no hook of any kind for `endAfterSilence`
 * ends (`endedBy: silence`), its feeds ended when it was last heard from. A later `started`, or a thumbnail captured
 * after that, starts a new session. `lastHeardAt` is written lazily, up to HEARD_LAG behind, and the silence is
 * judged that much later.
 * @module
 */
import { isActive } from './active-feeds.ts'
import { closeHealth } from './health-rules.ts'
import type { StreamRecord, ThumbnailRef } from './stream-types.ts'

/** How far behind the stored `lastHeardAt` may be: a tenth of the silence, at most a minute. */
function heardLag(silenceMs: number): number {
  return Math.min(60_000, silenceMs / 10)
}

/** When the stream was last heard from; for a record written before `lastHeardAt`, the latest time it shows. */
function heardAt(r: Readonly<StreamRecord>): number {
  return r.lastHeardAt ?? Math.max(r.liveSince ?? 0, r.latestThumbnail?.timestamp ?? 0, r.updatedAt)
}

/** Records a hook received at `at` (the latest receipt wins). */
export function noteHeard(r: StreamRecord, at: number): void {
  if (r.lastHeardAt === undefined || at > r.lastHeardAt) r.lastHeardAt = at
}

/**
 * Whether a hook received at `at` is worth a write of `lastHeardAt`: for a session that is not over, when the stored
 * time is older than the lag allows. Reads only: the record may be a store's own.
 */
export function heardIsNews(r: Readonly<StreamRecord>, at: number, silenceMs: number | undefined): boolean {
  if (silenceMs === undefined || r.status === 'ended') return false
  return r.lastHeardAt === undefined || at - r.lastHeardAt >= heardLag(silenceMs)
}

/** When a live session's silence ends it (epoch ms); undefined when it is not live or silence ends nothing. */
export function silenceEndsAt(r: Readonly<StreamRecord>, silenceMs: number | undefined): number | undefined {
  if (silenceMs === undefined || r.status !== 'live') return undefined
  return heardAt(r) + silenceMs + heardLag(silenceMs)
}

/** Ends a live session that has been silent long enough; true when it did. */
export function endIfSilent(r: StreamRecord, now: number, silenceMs: number | undefined): boolean {
  const at = silenceEndsAt(r, silenceMs)
  if (at === undefined || at > now) return false
  const last = Math.max(heardAt(r), r.liveSince ?? 0)
  for (const id of Object.keys(r.feeds)) {
    const feed = r.feeds[id]!
    if (isActive(feed)) feed.ended = Math.max(last, feed.started!)
  }
  r.status = 'ended'
  r.endedAt = last
  r.endedBy = 'silence'
  delete r.endingSince
  for (const id of Object.keys(r.feeds)) if (r.feeds[id]!.ended !== undefined) delete r.feeds[id]
  closeHealth(r)
  return true
}

/**
 * Whether a thumbnail shows the publisher back after a silence ended its session (its `started` was lost): one
 * captured after the session was last heard from. A thumbnail after the platform's own `ended` never revives one.
 */
export function revivesAfterSilence(r: Readonly<StreamRecord> | undefined, ref: ThumbnailRef): boolean {
  return (
    r?.status === 'ended' &&
    r.endedBy === 'silence' &&
    r.endedAt !== undefined &&
    ref.timestamp > r.endedAt &&
    ref.feedId !== undefined
  )
}
