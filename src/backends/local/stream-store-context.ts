/**
 * What the local stream store's steps share: its bounds, every record (kept in memory, where compare-and-set is
 * done, as one process owns the directory), the record and thumbnail files, and the order in which ended streams
 * give up their place.
 * @module
 */
import type { Logger } from '../../log.ts'
import type { StoreReport } from '../../streams/store-report.ts'
import type { StreamRecord } from '../../streams/stream-types.ts'
import { thumbnailRefs } from '../../streams/stream-record.ts'
import type { EvictionOrder } from './eviction-order.ts'
import type { StreamRecordFiles, StoredRecord } from './stream-record-files.ts'
import { thumbName, type ThumbnailFiles } from './thumbnail-files.ts'

export interface LocalStreamStoreContext {
  log: Logger
  now: () => number
  report: StoreReport
  maxStreams: number
  keepEndedMs: number
  maxThumbnailBytes: number
  records: Map<string, StoredRecord>
  /** The last revision given. One counter for all, so a stream forgotten and made again never gets one back. */
  revision: number
  order: EvictionOrder
  files: StreamRecordFiles
  thumbs: ThumbnailFiles
  /**
   * Thumbnail files a lazy change dropped, with the revision that dropped them: they go once a record at least that
   * new is on disk (a crash before that brings back a record that still refers to them).
   */
  dropAfterWrite: Map<string, Array<{ file: string; revision: number }>>
}

/** The thumbnail files a record refers to. */
export function refsOf(record: StreamRecord | undefined): Set<string> {
  const out = new Set<string>()
  for (const ref of thumbnailRefs(record)) out.add(thumbName(record!.streamId, ref.eventId))
  return out
}
