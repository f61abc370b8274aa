/**
 * The local stream store's options (its bounds default to the config's), and what it offers beyond a stream store:
 * a sweep to run at will, and counts for the metrics.
 * @module
 */
import type { Logger } from '../../log.ts'
import type { StreamStore } from '../../streams/stream-store.ts'

export interface LocalStreamStoreOptions {
  dir: string
  log: Logger
  now?: () => number
  /** Stream records kept at most (default 10,000). */
  maxStreams?: number
  /** Ended streams are forgotten this long after their last change (default 7 days). */
  keepEndedMs?: number
  /** Bytes of thumbnails kept at most (default 512 MiB). */
  maxThumbnailBytes?: number
  /** How often ended streams and stray thumbnail files are swept (default: an hour, or keepEndedMs / 4 if less). */
  sweepEveryMs?: number
  /** A background step failed (it is retried); for metrics. */
  onBackgroundFailure?(task: string): void
  /**
   * A bound was hit (`streams_full`, `stream_evicted`, `stream_expired`, `thumbnail_bytes`, `stream_id_too_long`);
   * for metrics.
   */
  onLimit?(limit: string): void
}

export interface LocalStreamStore extends StreamStore {
  /** Forgets ended streams past `keepEndedMs`, and thumbnail files nothing refers to; resolves how many streams go. */
  sweep(): Promise<number>
  stats(): { streams: number; thumbnailBytes: number }
}
