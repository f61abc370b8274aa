/**
 * What hookcast remembers about each stream, and the small store interface that keeps it (a local directory
 * today; a store shared by several instances later).
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

export type StreamStatus = 'live' | 'ending' | 'ended'

/** Message ids a notifier keeps per live session, to update or thread later messages. */
export type AlertRecord = Record<string, string>

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
  /** The session whose `live` / `ended` lifecycle event was last handed to the pipeline (so none is lost or doubled). */
  emitted: { live?: string; ended?: string }
  /** Wall-clock time of the last change, epoch ms (the age of an ended stream runs from here). */
  updatedAt: number
}

export interface StreamStore {
  get(streamId: string): StreamRecord | undefined
  all(): StreamRecord[]
  /**
   * Applies `change` to the record (created when missing) and persists it before resolving; with `lazy`, the write
   * may wait up to a second to be shared with other changes (for changes a crash may lose, like the latest thumbnail).
   *
   * Creating a record can be refused with a {@link StreamLimitError} (the id is too long, or every record the store
   * may hold is a live stream); a known stream's record always changes.
   */
  update(streamId: string, change: (record: StreamRecord) => void, lazy?: boolean): Promise<StreamRecord>
  /**
   * Keeps a thumbnail's bytes for a record to refer to (write it before the `update` that refers to it). Resolves
   * `false` when the thumbnail bytes the store may hold are all taken by live streams: then nothing is kept (any
   * other value: kept).
   */
  putThumbnail(ref: ThumbnailRef, bytes: Uint8Array): Promise<boolean | void>
  thumbnail(streamId: string, eventId: string): Promise<Uint8Array | undefined>
  close(): Promise<void>
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
export type StreamLimit = 'streams_full' | 'stream_id_too_long'

/** A record the store will not create: the event is not tracked (retrying would not help). */
export class StreamLimitError extends Error {
  readonly limit: StreamLimit
  constructor(limit: StreamLimit, message: string) {
    super(message)
    this.name = 'StreamLimitError'
    this.limit = limit
  }
}

/** A fresh object for a map keyed by input: no prototype, so no key is special. */
export function dict<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>
}
