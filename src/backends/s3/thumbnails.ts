/**
 * The S3 stream store's thumbnail bytes, `<prefix>/thumbnails/<streamKey>/<eventId>`. S3 has no cheap byte count, so
 * they are bounded by count: a stream keeps the two its record refers to and `spare` others. Thumbnails of no record (a
 * stream refused, a crash between thumbnail and record) go at a sweep once past a grace period, a sixteenth of them
 * (one slice of stream keys) per run, so no run lists them all.
 * @module
 */
import type { ThumbnailRef } from '../../streams/stream-types.ts'
import { streamKey } from '../../streams/stream-key.ts'
import { encodeSegment } from './queue-keys.ts'
import { listAll, type ListedObject, type Objects } from './objects.ts'

/** The slices of the loose-thumbnail sweep: stream keys by their first hex digit. */
export const SLICES = '0123456789abcdef'

export interface S3Thumbnails {
  /** Stores the bytes, then trims the stream's thumbnails to its record's two and `spare` others. */
  put(ref: ThumbnailRef, bytes: Uint8Array): Promise<void>
  get(streamId: string, eventId: string): Promise<Uint8Array | undefined>
  /** Removes the thumbnails of a stream key stored at or before `until` (epoch ms; Infinity: all). */
  removeStoredBefore(hash: string, until: number): Promise<void>
  /**
   * Removes, in slice `slice`, the thumbnails of streams with no record (`withRecord` lists the stream keys that
   * have one; a stream not in it is looked up once more before) stored at or before `before`, until `deadline`;
   * resolves how many went.
   */
  sweepLoose(slice: string, withRecord: ReadonlySet<string>, before: number, deadline: number): Promise<number>
}

interface S3ThumbnailsOptions {
  objects: Objects
  /** `<prefix>/` or empty. */
  root: string
  spare: number
  /** The event ids of the thumbnails the stream's record refers to (none when it has no record). */
  referenced(streamId: string): Promise<Array<string | undefined>>
  /** Whether the stream key has a record now. */
  hasRecord(hash: string): Promise<boolean>
}

export function s3Thumbnails({ objects, root, spare, referenced, hasRecord }: S3ThumbnailsOptions): S3Thumbnails {
  const base = `${root}thumbnails/`
  const folder = (hash: string) => `${base}${hash}/`
  const key = (streamId: string, eventId: string) => `${folder(streamKey(streamId))}${encodeSegment(eventId)}`

  return {
    async put(ref, bytes) {
      const streamId = ref.event.streamId ?? ''
      await objects.put(key(streamId, ref.eventId), bytes)
      const kept = await listAll(objects, folder(streamKey(streamId)))
      if (kept.length <= spare + 2) return
      // The record's two and `spare` others, the one just put among them (the record is about to refer to it).
      const refs = new Set((await referenced(streamId)).filter((id) => id !== undefined).map((id) => key(streamId, id)))
      const added = key(streamId, ref.eventId)
      const others = kept
        .filter((object) => !refs.has(object.key) && object.key !== added)
        .sort((a, b) => a.lastModified - b.lastModified || (a.key < b.key ? -1 : 1))
      const room = Math.max(0, spare - (refs.has(added) ? 0 : 1))
      for (const object of others.slice(0, Math.max(0, others.length - room))) await objects.delete(object.key)
    },

    async get(streamId, eventId) {
      return (await objects.get(key(streamId, eventId)))?.body
    },

    async removeStoredBefore(hash, until) {
      for (const object of await listAll(objects, folder(hash)))
        if (object.lastModified <= until) await objects.delete(object.key)
    },

    async sweepLoose(slice, withRecord, before, deadline) {
      const loose = new Map<string, ListedObject[]>()
      for (const object of await listAll(objects, `${base}${slice}`)) {
        const hash = object.key.slice(base.length).split('/')[0]!
        if (withRecord.has(hash) || object.lastModified > before) continue
        loose.set(hash, [...(loose.get(hash) ?? []), object])
      }
      let removed = 0
      for (const [hash, objectsOf] of loose) {
        if (Date.now() >= deadline) break
        if (await hasRecord(hash)) continue // made since the records were listed: it may refer to them
        for (const object of objectsOf) {
          await objects.delete(object.key)
          removed++
        }
      }
      return removed
    },
  }
}
