/**
 * What hookcast remembers about each stream: the stream record a stream store keeps per stream, and the bounds on it.
 * @module
 */
import type { HookEvent } from '../events/types.ts'

/** A thumbnail as the state refers to it: enough to find its bytes, or to render a sink key for a URL. */
export interface ThumbnailRef {
  eventId: string
  timestamp: number
  feedId?: string
  /** The thumbnail event without its body, to render the storage key a sink used for it. */
  event: Omit<HookEvent, 'body' | 'data'>
}

export interface FeedState {
  /** From the payload: `data.started`, else the envelope timestamp of `started`. */
  started?: number
  /** From the payload: `data.ended`, else the envelope timestamp of `ended`. */
  ended?: number
}

type StreamStatus = 'live' | 'ending' | 'ended'

/** A picture problem, or thumbnails that stopped. */
export type HealthProblem = 'black' | 'frozen' | 'quiet'
export type HealthEventName = HealthProblem | 'recovered'

/** An open problem: since when (epoch ms), the thumbnail that shows it, and what was measured. */
export interface Problem {
  since: number
  thumbnail?: ThumbnailRef
  measurements: Record<string, number>
}

/** A health event decided in a write and not handed on yet: its data as decided then. */
export interface HealthNotice {
  seq: number
  event: HealthEventName
  /** The event's own time, epoch ms. */
  at: number
  data: Record<string, unknown>
}

/** Pictures in a row toward black or frozen: the first one's thumbnail time, how many, the largest change. */
interface PictureRun {
  since: number
  count: number
  change?: number
}

/** Picture health of the current (or last) session, with the tracker's bookkeeping (health-rules.ts). */
export interface StreamHealth {
  session: string
  state: 'ok' | 'black' | 'frozen' | 'quiet' | 'unknown'
  open: { black?: Problem; frozen?: Problem; quiet?: Problem }
  /** The last picture looked at: its luma grid (gridText) and thumbnail time. */
  grid?: string
  lookedAt?: number
  blackRun?: PictureRun
  stillRun?: PictureRun
  /** Good pictures in a row since black / frozen was raised (the recovery count). */
  good?: Partial<Record<HealthProblem, number>>
  /** Health events decided this session (the next one's seq). */
  seq: number
  outbox: HealthNotice[]
  /** Problems still open when the session ended: they closed with it. */
  openAtEnd?: HealthProblem[]
  /** Thumbnails this session's health events refer to, newest last (a store keeps them while listed). */
  shown: ThumbnailRef[]
}

/** Message ids a notifier keeps per live session, to update or thread later messages. */
type AlertRecord = Record<string, string>

export interface StreamRecord {
  streamId: string
  accountId?: string
  streamName?: string
  /**
   * `live`: at least one feed active. `ending`: none active, within the flap window (a feed starting again now
   * continues the same session). `ended`: the session is over.
   */
  status: StreamStatus
  /** Identifies the current (or last) live session: `<streamId>@<liveSince>`. */
  session?: string
  /** Payload time the session went live, epoch ms. */
  liveSince?: number
  /** Payload time the last feed ended, epoch ms. */
  endedAt?: number
  /** Wall-clock time the last feed ended (the flap window runs from here), epoch ms. */
  endingSince?: number
  /** Wall-clock time the session began here (the `live` event's wait for a first thumbnail runs from it). */
  openedAt?: number
  /** Receipt time of the last hook of any kind of this stream, epoch ms; written lazily (silence-rules.ts). */
  lastHeardAt?: number
  /** How the last session ended: the platform's `ended` hooks, or no hook for `streams.endAfterSilence`. */
  endedBy?: 'hook' | 'silence'
  /** By feed id (input): a null-prototype object, so an id like `__proto__` is a key like any other. */
  feeds: Record<string, FeedState>
  firstThumbnail?: ThumbnailRef
  latestThumbnail?: ThumbnailRef
  /** Per notifier name, per session: what it posted (message ids). Null-prototype objects, as `feeds`. */
  alerts: Record<string, Record<string, AlertRecord>>
  /** The session whose `live` / `ended` event was last handed to the pipeline (so none is lost or doubled). */
  emitted: { live?: string; ended?: string }
  /**
   * A transition being handed on, and by whom: written in the same compare-and-set as the change that made it due,
   * so of several trackers racing on one stream exactly one hands it on (see lifecycle-rules.ts `claimTransitions`).
   * `health` covers the health events waiting in `health.outbox`.
   */
  emitting?: { live?: EmitClaim; health?: EmitClaim; ended?: EmitClaim }
  health?: StreamHealth
  /**
   * The check the last write that brought the next one forward puts after it, and that write's delivery: if the put
   * fails or the process dies first, a redelivery finds it here and puts it again (see next-check.ts `owedCheck`).
   */
  wake?: { at: number; by: string }
  /** Wall-clock time of the last change, epoch ms (the age of an ended stream runs from here). */
  updatedAt: number
}

/** What is handed on, in this order within a session: `live`, the health events, `ended`. */
export type Transition = 'live' | 'health' | 'ended'

/** Who hands on a transition: the delivery (event id) that took it on, and when (epoch ms). */
export interface EmitClaim {
  session: string
  by: string
  at: number
}

/**
 * Bounds on what one stream may hold. The platform's stream id is `account/name`, each part at most 256 characters
 * (what the thumbnail parser accepts); anything longer is not a stream id the platform sends.
 */
export const STREAM_LIMITS = {
  streamIdLength: 256 + 1 + 256,
  /** An account id or stream name longer than this is not kept (the stream id still is). */
  nameLength: 256,
  /** Feed ids are the platform's UUIDs; a longer one is not tracked. */
  feedIdLength: 128,
  /** Feeds one stream keeps (redundant ingest, multi-source and simulcast give a handful; ended ones go first). */
  feedsPerStream: 256,
} as const

/** Why a store would not create a record. */
type StreamLimit = 'streams_full' | 'stream_id_too_long'

/** A record the store will not create: the event is not tracked (retrying would not help). */
export class StreamLimitError extends Error {
  readonly limit: StreamLimit
  constructor(limit: StreamLimit, message: string) {
    super(message)
    this.name = 'StreamLimitError'
    this.limit = limit
  }
}

/**
 * Refuses to create a record for a stream id too long to be one the platform sends: every store keeps this bound.
 * `limit` counts it (metrics) before the refusal is thrown.
 */
export function checkStreamIdFits(streamId: string, limit?: (what: StreamLimit) => void): void {
  if (streamId.length <= STREAM_LIMITS.streamIdLength) return
  limit?.('stream_id_too_long')
  throw new StreamLimitError('stream_id_too_long', `a stream id of ${streamId.length} characters is not kept`)
}

/** A fresh object for a map keyed by input: no prototype, so no key is special. */
export function dict<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>
}
