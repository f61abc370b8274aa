/**
 * Storing a thumbnail within the thumbnail bucket's byte budget (`maxThumbnailBytes`, the bucket's `max_bytes`,
 * which counts keys and chunk overhead too). A thumbnail refused there takes the room of ended streams' thumbnails,
 * oldest first; when only live streams' thumbnails are left, it is not kept and `putThumbnail` resolves false.
 * @module
 */
import type { KV } from '@nats-io/kv'
import type { StreamStore } from '../../streams/stream-store.ts'
import { STREAM_LIMITS } from '../../streams/stream-types.ts'
import type { Logger } from '../../log.ts'
import { streamKey } from '../../streams/stream-key.ts'
import { isWrongRevision } from './kv-buckets.ts'
import type { NatsThumbnails } from './thumbnails.ts'
import type { StoreReport } from '../../streams/store-report.ts'
import { FRUITLESS_MS, encodeRecord, endedFirst, refsOf, type StreamRecords } from './stream-records.ts'
import { EVENT_ID } from '../../streams/stream-store.ts'
import { withoutThumbnails } from '../../streams/stream-record.ts'

interface ThumbnailBudgetOptions {
  records: StreamRecords
  /** The records' bucket: an ended stream that gives its thumbnails up is rewritten without them. */
  kv: KV
  thumbs: NatsThumbnails
  report: StoreReport
  log: Logger
}

export function thumbnailBudget({
  records,
  kv,
  thumbs,
  report,
  log,
}: ThumbnailBudgetOptions): StreamStore['putThumbnail'] {
  let fruitlessUntil = 0

  /** Frees at least `needed` bytes of ended streams' thumbnails (oldest first); resolves what it freed. */
  async function freeThumbnailBytes(needed: number, except: string): Promise<number> {
    if (Date.now() < fruitlessUntil) return 0
    let freed = 0
    for (const stored of endedFirst(await records.scan())) {
      const { record, revision } = stored
      if (freed >= needed) break
      const refs = refsOf(record)
      if (record.streamId === except || refs.length === 0) continue
      const key = streamKey(record.streamId)
      const sizes = await Promise.all(refs.map((eventId) => thumbs.head(key, eventId)))
      if (!record.session) {
        // Known from thumbnails alone: nothing left worth keeping.
        if (await records.deleteAt(stored)) freed += sizes.reduce((sum, head) => sum + (head?.size ?? 0), 0)
        continue
      }
      try {
        // Its age stays: updatedAt is not stamped.
        await kv.update(key, encodeRecord(withoutThumbnails(record)), revision)
      } catch (error) {
        if (isWrongRevision(error)) continue // changed meanwhile: no longer the one to give way
        throw error
      }
      for (const eventId of refs) await thumbs.remove(key, eventId)
      freed += sizes.reduce((sum, head) => sum + (head?.size ?? 0), 0)
    }
    if (freed === 0) fruitlessUntil = Date.now() + FRUITLESS_MS
    return freed
  }

  return async function putThumbnail(ref, bytes) {
    const streamId = ref.event.streamId ?? ''
    if (!EVENT_ID.test(ref.eventId)) throw new Error(`not an event id: ${ref.eventId.slice(0, 80)}`)
    if (streamId.length > STREAM_LIMITS.streamIdLength) {
      report.limit('stream_id_too_long')
      return false
    }
    const key = streamKey(streamId)
    for (let attempt = 0; attempt < 3; attempt++) {
      if ((await thumbs.put(key, ref.eventId, bytes)) === 'stored') return true
      // Each chunk and head carries a subject and headers that count against the budget too.
      if (attempt < 2 && (await freeThumbnailBytes(bytes.byteLength + 64 * 1024, streamId)) === 0) break
    }
    report.limit('thumbnail_bytes')
    log.warn("thumbnail storage full of live streams' thumbnails: one is not kept (raise streams.maxThumbnailBytes)", {
      stream: streamId.slice(0, 100),
      bytes: bytes.byteLength,
    })
    return false
  }
}
