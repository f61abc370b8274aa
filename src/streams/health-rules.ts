/**
 * Picture health of a live session, as pure functions over its stream record. Each picture looked at moves a run of
 * black pictures and a run of unchanged ones; a run long enough raises its problem, and `recoverAfter` good pictures
 * in a row clear it. A problem is raised once and cleared once: while it is open nothing raises it again, and one
 * good picture among bad ones clears nothing (the hysteresis that keeps a flickering picture from alerting every
 * minute). Thumbnails that stop raise `quiet`, which the next thumbnail clears. Each raise or recovery is a notice in
 * the record's outbox, handed on after the session's `live` and before its `ended`.
 * @module
 */
import { gridFromText, gridText, isBlack, isUnchanged, pictureChange, type PictureSample } from '../health/picture.ts'
import type {
  HealthEventName,
  HealthProblem,
  Problem,
  StreamHealth,
  StreamRecord,
  ThumbnailRef,
} from './stream-types.ts'

export interface HealthSettings {
  black: { after: number; darkFraction: number }
  frozen: { after: number; tolerance: number }
  /** After this long (ms) without a thumbnail. */
  quiet: { after: number }
  /** Good pictures in a row that clear black or frozen. */
  recoverAfter: number
}

export const HEALTH_DEFAULTS: HealthSettings = {
  black: { after: 2, darkFraction: 0.95 },
  frozen: { after: 3, tolerance: 10 },
  quiet: { after: 90_000 },
  recoverAfter: 2,
}

/** Thumbnails of health events a record keeps referring to besides those of open problems (bounds the store's). */
const SHOWN_KEPT = 6

/** The record's health for its current session: a fresh one when what it holds is another session's. */
function sessionHealth(r: StreamRecord): StreamHealth | undefined {
  if (!r.session) return undefined
  if (r.health?.session !== r.session)
    r.health = { session: r.session, state: 'unknown', open: {}, seq: 0, outbox: [], shown: [] }
  return r.health
}

/**
 * Applies one picture of the live session, taken from thumbnail `ref`. A picture older than the last one looked at
 * changes nothing (false): runs count pictures in the order they were taken.
 */
export function takePicture(r: StreamRecord, picture: PictureSample, ref: ThumbnailRef, s: HealthSettings): boolean {
  const h = r.status === 'live' ? sessionHealth(r) : undefined
  if (!h || (h.lookedAt !== undefined && ref.timestamp <= h.lookedAt)) return false
  const previous = h.grid === undefined ? undefined : gridFromText(h.grid)
  const change = previous ? pictureChange(previous, picture.grid) : undefined
  const black = isBlack(picture, s.black)
  const unchanged = change !== undefined && isUnchanged(change, s.frozen)
  h.blackRun = black ? { since: h.blackRun?.since ?? ref.timestamp, count: (h.blackRun?.count ?? 0) + 1 } : undefined
  // Black, not also frozen: noise on black barely changes a cell, so black pictures never count toward frozen.
  h.stillRun =
    !black && unchanged
      ? {
          since: h.stillRun?.since ?? h.lookedAt!,
          count: (h.stillRun?.count ?? 1) + 1,
          change: Math.max(h.stillRun?.change ?? 0, change),
        }
      : undefined
  h.grid = gridText(picture.grid)
  h.lookedAt = ref.timestamp
  countGood(h, black, change !== undefined && !unchanged, ref, s)
  const shown = { thumbnail: ref, at: ref.timestamp }
  if (!h.open.black && h.blackRun && h.blackRun.count >= s.black.after) {
    const measurements = { meanLuma: round(picture.meanLuma, 1), darkFraction: round(picture.darkFraction, 3) }
    raise(h, 'black', { since: h.blackRun.since, measurements }, shown)
  }
  if (!h.open.frozen && h.stillRun && h.stillRun.count >= s.frozen.after) {
    const measurements = { change: h.stillRun.change ?? 0, thumbnails: h.stillRun.count }
    raise(h, 'frozen', { since: h.stillRun.since, measurements }, shown)
  }
  h.state = stateOf(h)
  return true
}

/** Counts a picture toward clearing the open black or frozen problem; clears it at `recoverAfter` in a row. */
function countGood(h: StreamHealth, black: boolean, changed: boolean, ref: ThumbnailRef, s: HealthSettings): void {
  const verdicts: Array<[HealthProblem, boolean]> = [
    ['black', !black],
    ['frozen', !black && changed],
  ]
  for (const [problem, good] of verdicts) {
    if (!h.open[problem]) continue
    const count = good ? (h.good?.[problem] ?? 0) + 1 : 0
    h.good = { ...h.good, [problem]: count }
    if (count >= s.recoverAfter) recover(h, problem, ref, ref.timestamp)
  }
}

/** The receipt time of the session's newest thumbnail; undefined when the session has sent none. */
function lastThumbnailAt(r: StreamRecord): number | undefined {
  return r.firstThumbnail && r.latestThumbnail ? r.latestThumbnail.event.receivedAt : undefined
}

/** When `quiet` is due for a live session that has been sending thumbnails and is not quiet already. */
export function quietDueAt(r: StreamRecord, s: HealthSettings | undefined): number | undefined {
  if (!s || r.status !== 'live' || (r.health?.session === r.session && r.health?.open.quiet)) return undefined
  const last = lastThumbnailAt(r)
  return last === undefined ? undefined : last + s.quiet.after
}

/** Raises `quiet` when no thumbnail came for `quiet.after`; true when it did. */
export function raiseQuietIfDue(r: StreamRecord, now: number, s: HealthSettings | undefined): boolean {
  const due = quietDueAt(r, s)
  const h = due !== undefined && now >= due ? sessionHealth(r) : undefined
  if (!h) return false
  const since = lastThumbnailAt(r)!
  raise(h, 'quiet', { since, measurements: { silentMs: now - since } }, { thumbnail: r.latestThumbnail, at: now })
  h.state = stateOf(h)
  return true
}

/** A thumbnail of the live session came: it clears `quiet`. True when it did. */
export function thumbnailCame(r: StreamRecord, ref: ThumbnailRef): boolean {
  const h = r.status === 'live' && r.health?.session === r.session ? r.health : undefined
  const quiet = h?.open.quiet
  if (!h || !quiet || ref.event.receivedAt <= quiet.since) return false
  recover(h, 'quiet', ref, ref.event.receivedAt)
  h.state = stateOf(h)
  return true
}

/** The session ended: its open problems close with it (the `ended` event names them; no `recovered` follows). */
export function closeHealth(r: StreamRecord): void {
  const h = r.health?.session === r.session ? r.health : undefined
  if (!h) return
  h.openAtEnd = (['black', 'frozen', 'quiet'] as const).filter((problem) => h.open[problem])
  h.open = {}
  delete h.good
  delete h.blackRun
  delete h.stillRun
  h.state = stateOf(h)
}

/** Health notices of `session` up to `seq` were handed on: they leave the outbox. */
export function dropHandedOn(r: StreamRecord, session: string, seq: number): void {
  if (r.health?.session === session) r.health.outbox = r.health.outbox.filter((notice) => notice.seq > seq)
}

function raise(
  h: StreamHealth,
  problem: HealthProblem,
  found: Omit<Problem, 'thumbnail'>,
  shown: { thumbnail: ThumbnailRef | undefined; at: number },
): void {
  h.open[problem] = { ...found, ...(shown.thumbnail ? { thumbnail: shown.thumbnail } : {}) }
  if (h.good) delete h.good[problem]
  notify(h, problem, shown, { problem, since: found.since, measurements: found.measurements })
}

function recover(h: StreamHealth, problem: HealthProblem, ref: ThumbnailRef, at: number): void {
  const since = h.open[problem]!.since
  delete h.open[problem]
  if (h.good) delete h.good[problem]
  notify(h, 'recovered', { thumbnail: ref, at }, { problem, since, recoveredAt: at, durationMs: at - since })
}

function notify(
  h: StreamHealth,
  event: HealthEventName,
  shown: { thumbnail: ThumbnailRef | undefined; at: number },
  data: Record<string, unknown>,
): void {
  const { thumbnail } = shown
  if (thumbnail) {
    data.thumbnail = { eventId: thumbnail.eventId, timestamp: thumbnail.timestamp }
    h.shown = [...h.shown.filter((kept) => kept.eventId !== thumbnail.eventId), thumbnail].slice(-SHOWN_KEPT)
  }
  h.outbox.push({ seq: h.seq, event, at: shown.at, data })
  h.seq++
}

function stateOf(h: StreamHealth): StreamHealth['state'] {
  if (h.open.quiet) return 'quiet'
  if (h.open.black) return 'black'
  if (h.open.frozen) return 'frozen'
  return h.lookedAt === undefined ? 'unknown' : 'ok'
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits
