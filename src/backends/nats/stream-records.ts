/**
 * The stream records in their KV bucket, as the NATS stream store's parts read and remove them: one JSON value per
 * stream under `streamKey(streamId)`, whose KV revision is the record's revision. Also what a record refers to (its
 * thumbnails), so a write or a delete removes the thumbnails it leaves behind.
 * @module
 */
import type { KvEntry } from '@nats-io/kv'
import type { StreamRecord } from '../../streams/stream-types.ts'
import { normaliseRecord, thumbnailRefs } from '../../streams/stream-record.ts'
import type { Logger } from '../../log.ts'
import { streamKey } from '../../streams/stream-key.ts'
import { isNoMessage, type Bucket } from './kv-buckets.ts'
import type { NatsThumbnails } from './thumbnails.ts'
import type { StoreReport } from '../../streams/store-report.ts'

/** A record as read, with its revision and when the server stored that revision (epoch ms). */
interface Stored {
  record: StreamRecord
  revision: number
  at: number
}

/** What the record at a revision refers to: the event ids of its thumbnails. */
interface Refs {
  revision: number
  refs: string[]
}

/** Records whose revision `get` handed out, remembered to know what a `put` at that revision replaces. */
const SEEN_MAX = 4_096

/**
 * How long a scan that freed nothing (every stream live) is not run again by the part that ran it: when the bucket
 * is full of live streams, every new stream or thumbnail would otherwise read the whole bucket.
 */
export const FRUITLESS_MS = 10_000

export const encodeRecord = (record: StreamRecord) => JSON.stringify(record)

export const refsOf = (record: StreamRecord | undefined) => [
  ...new Set(thumbnailRefs(record).map((ref) => ref.eventId)),
]

/** Ended streams, in the order they give up their place: those that never went live first, then oldest change first. */
export const endedFirst = (records: Stored[]) =>
  records
    .filter(({ record }) => record.status === 'ended')
    .sort((a, b) => Number(!!a.record.session) - Number(!!b.record.session) || a.record.updatedAt - b.record.updatedAt)

export interface StreamRecords {
  /** The stream's record, or undefined; throws when the value under its key is not a record of it. */
  read(streamId: string): Promise<Stored | undefined>
  /** Every record with its revision, in one pass over the bucket (a record changed meanwhile counts once, its last). */
  scan(): Promise<Stored[]>
  /**
   * Deletes the stream at exactly `revision`, then the thumbnails stored before that revision (later ones may be a
   * new session's, whose record is being made on another instance); false when that revision is not stored.
   */
  deleteAt(stored: Stored): Promise<boolean>
  /** Notes what a revision handed out or written refers to. */
  remember(stored: Pick<Stored, 'record' | 'revision'>): void
  /** What was noted for the stream's last revision seen here, if anything. */
  remembered(streamId: string): Refs | undefined
}

interface StreamRecordsOptions {
  bucket: Bucket
  thumbs: NatsThumbnails
  report: StoreReport
  log: Logger
  now: () => number
}

export function streamRecords({ bucket, thumbs, report, log, now }: StreamRecordsOptions): StreamRecords {
  const { kv, patient, jsm, jetStream } = bucket
  const seen = new Map<string, Refs>()

  function decode(entry: KvEntry): Stored | undefined {
    try {
      const record = normaliseRecord(entry.json(), now())
      return record && streamKey(record.streamId) === entry.key
        ? { record, revision: entry.revision, at: entry.created.getTime() }
        : undefined
    } catch {
      return undefined
    }
  }

  return {
    async read(streamId) {
      const entry = await kv.get(streamKey(streamId))
      if (entry?.operation !== 'PUT') return undefined
      const stored = decode(entry)
      if (!stored || stored.record.streamId !== streamId)
        throw new Error(`stream state of ${streamId.slice(0, 100)} is not a record of it (revision ${entry.revision})`)
      return stored
    },

    async scan() {
      const out = new Map<string, Stored>()
      for await (const entry of await patient.history()) {
        if (entry.operation !== 'PUT') continue
        const stored = decode(entry)
        if (!stored)
          log.error('a stream state value is not a stream record; left alone', {
            key: entry.key,
            revision: entry.revision,
          })
        else if (stored.revision > (out.get(entry.key)?.revision ?? 0)) out.set(entry.key, stored)
      }
      return [...out.values()]
    },

    async deleteAt({ record: { streamId }, revision, at }) {
      try {
        await jsm.streams.deleteMessage(jetStream, revision, false)
      } catch (error) {
        if (isNoMessage(error)) return false
        throw error
      }
      seen.delete(streamId)
      await thumbs
        .removeStoredBefore(streamKey(streamId), at)
        .catch((error) =>
          report.failed(
            'thumbnail-remove',
            "cannot remove a forgotten stream's thumbnails; the sweep retries",
            { stream: streamId },
            error,
          ),
        )
      return true
    },

    remember(stored) {
      // Deleted first so the newest stays last: the oldest entry is the one dropped past SEEN_MAX.
      seen.delete(stored.record.streamId)
      seen.set(stored.record.streamId, { revision: stored.revision, refs: refsOf(stored.record) })
      if (seen.size > SEEN_MAX) seen.delete(seen.keys().next().value!)
    },

    remembered: (streamId) => seen.get(streamId),
  }
}
