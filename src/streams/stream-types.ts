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
   */
  emitting?: { live?: EmitClaim; ended?: EmitClaim }
  /** Wall-clock time of the last change, epoch ms (the age of an ended stream runs from here). */
  updatedAt: number
}

export type Transition = 'live' | 'ended'

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
