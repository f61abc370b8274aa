/**
 * The stream store in this process's memory: the reference implementation of the contract (tests), lost on exit.
 * Records are kept as private copies with a store-wide revision counter, so a revision never comes back for a
 * record deleted and made again.
 * @module
 */
import type { StreamStore, Revision } from './stream-store.ts'
import { cloneRecord, thumbnailRefs } from './stream-record.ts'
import { checkStreamIdFits, STREAM_LIMITS, type StreamRecord } from './stream-types.ts'

interface MemoryStreamStoreOptions {
  now?: () => number
  /** Thumbnails kept per stream beyond those its record refers to (oldest go first; default 8). */
  spareThumbnails?: number
}

export function memoryStreamStore(options: MemoryStreamStoreOptions = {}): StreamStore {
  const now = options.now ?? Date.now
  const spare = options.spareThumbnails ?? 8
  const records = new Map<string, { record: StreamRecord; revision: number }>()
  /** By stream, by event id, in the order they were put. */
  const thumbnails = new Map<string, Map<string, Uint8Array>>()
  let counter = 0

  const referenced = (streamId: string) => {
    const record = records.get(streamId)?.record
    return new Set(thumbnailRefs(record).map((ref) => ref.eventId))
  }

  return {
    async get(streamId) {
      const entry = records.get(streamId)
      return entry && { record: cloneRecord(entry.record), revision: String(entry.revision) }
    },
    async peek(streamId) {
      const entry = records.get(streamId)
      return entry && { record: entry.record, revision: String(entry.revision) }
    },
    async put(streamId, record, expected) {
      if (record.streamId !== streamId) throw new Error('a record is put under its own stream id')
      const current = records.get(streamId)
      const matches = expected === null ? !current : current !== undefined && String(current.revision) === expected
      if (!matches) return 'conflict'
      if (!current) checkStreamIdFits(streamId)
      record.updatedAt = now()
      records.set(streamId, { record: cloneRecord(record), revision: ++counter })
      return String(counter) as Revision
    },
    async list() {
      return [...records.values()].map((entry) => cloneRecord(entry.record))
    },
    async delete(streamId, expected) {
      const current = records.get(streamId)
      if (!current) return false
      if (expected !== undefined && String(current.revision) !== expected) return 'conflict'
      records.delete(streamId)
      thumbnails.delete(streamId)
      return true
    },
    async putThumbnail(ref, bytes) {
      const streamId = ref.event.streamId ?? ''
      if (streamId.length > STREAM_LIMITS.streamIdLength) return false
      let kept = thumbnails.get(streamId)
      if (!kept) thumbnails.set(streamId, (kept = new Map()))
      kept.set(ref.eventId, bytes.slice())
      const keep = referenced(streamId)
      for (const eventId of kept.keys()) {
        if (kept.size <= keep.size + spare) break
        if (!keep.has(eventId)) kept.delete(eventId)
      }
      return true
    },
    async thumbnail(streamId, eventId) {
      return thumbnails.get(streamId)?.get(eventId)?.slice()
    },
    async close() {},
  }
}
