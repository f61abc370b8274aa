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
  feeds: Record<string, FeedState>
  firstThumbnail?: ThumbnailRef
  latestThumbnail?: ThumbnailRef
  /** Per notifier name, per session: what it posted (message ids). */
  alerts: Record<string, Record<string, AlertRecord>>
  /** The session whose `live` / `ended` lifecycle event was last handed to the pipeline (so none is lost or doubled). */
  emitted: { live?: string; ended?: string }
  /** Wall-clock time of the last change, epoch ms. */
  updatedAt: number
}

export interface StreamStore {
  get(streamId: string): StreamRecord | undefined
  all(): StreamRecord[]
  /**
   * Applies `change` to the record (created when missing) and persists it before resolving; with `lazy`, the write
   * may wait up to a second to be shared with other changes (for changes a crash may lose, like the latest thumbnail).
   */
  update(streamId: string, change: (record: StreamRecord) => void, lazy?: boolean): Promise<StreamRecord>
  putThumbnail(ref: ThumbnailRef, bytes: Uint8Array): Promise<void>
  thumbnail(streamId: string, eventId: string): Promise<Uint8Array | undefined>
  close(): Promise<void>
}
