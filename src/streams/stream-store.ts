/**
 * The stream store: one record per stream, changed only by compare-and-set, plus the thumbnail bytes the records
 * refer to. Its shape is what a NATS KV bucket (revisions) or S3 objects (ETags, If-Match) offer as they are, so
 * several instances can share it. Change a record through {@link updateWithRetry}, so that no change is lost and
 * none is applied twice. Every implementation passes test/streams/stream-store.contract.ts.
 * @module
 */
import type { StreamRecord, ThumbnailRef } from './stream-types.ts'
import { freshRecord } from './stream-record.ts'

/** A record's version, opaque to callers (a KV revision, an ETag, a counter): compare-and-set writes name it. */
export type Revision = string

export interface VersionedRecord {
  /** The caller's own copy: changing it changes nothing until it is `put`. */
  record: StreamRecord
  revision: Revision
}

interface PutOptions {
  /**
   * The write may be shared with other changes and reach durable storage up to about a second later (for changes a
   * crash may lose, like the latest thumbnail). Readers in this process see it at once. A hint: a store may ignore it.
   */
  lazy?: boolean
}

export interface StreamStore {
  get(streamId: string): Promise<VersionedRecord | undefined>
  /**
   * The stored record itself, not a copy, to read and never change: for a check that can make a change unnecessary
   * (a busy stream's hook that changes nothing then costs no copy). A store that has it replaces a stored record on
   * every change, never changes one in place, so a record it handed out stays as it was read. Stores that keep
   * their records in memory have it; for the others a `get` costs the same, so they leave it out.
   */
  peek?(streamId: string): Promise<VersionedRecord | undefined>
  /**
   * Writes `record` when the stored revision is still `expected` (`null`: only when there is no record yet), and
   * resolves its new revision; `conflict` when another write came first (read again, change again, put again).
   * The store stamps `updatedAt` with its clock (on `record` too). Creating a record may be refused with a
   * StreamLimitError (an id too long to be a stream's, or no room left); a known stream's record always changes.
   */
  put(
    streamId: string,
    record: StreamRecord,
    expected: Revision | null,
    options?: PutOptions,
  ): Promise<Revision | 'conflict'>
  /** Every record, as copies (the operator's view, the restart scan). */
  list(): Promise<StreamRecord[]>
  /** Forgets a stream and its thumbnails (only at revision `expected`, when given): true when there was one. */
  delete(streamId: string, expected?: Revision): Promise<boolean | 'conflict'>
  /**
   * Keeps a thumbnail's bytes for a record to refer to (write it before the `put` that refers to it). Resolves
   * `false` when there is no room for it (what the store may hold is taken by live streams): then nothing is kept.
   */
  putThumbnail(ref: ThumbnailRef, bytes: Uint8Array): Promise<boolean>
  thumbnail(streamId: string, eventId: string): Promise<Uint8Array | undefined>
  close(): Promise<void>
}

export interface UpdateOptions extends PutOptions {
  /** Change only a record that exists: resolve undefined rather than create one. */
  existing?: boolean
  now?: () => number
}

/** Reads a record only to look at it: the store's own when it can hand that out (`peek`), else a copy. */
export function readRecord(store: StreamStore, streamId: string): Promise<VersionedRecord | undefined> {
  return store.peek ? store.peek(streamId) : store.get(streamId)
}

/** Past this many conflicts in a row, something is writing one stream in a loop: give up (the caller retries later). */
const MAX_ATTEMPTS = 64

/**
 * Reads the stream's record (a fresh one when there is none), applies `change`, and puts it with the revision it
 * read; on a conflict, does it all again on what the other writer left. `change` must depend only on the record it
 * is given (it may run several times); it returns `false` when there is nothing to write. Resolves what was written
 * (or, for `false`, what was read; undefined when there was nothing).
 */
export async function updateWithRetry(
  store: StreamStore,
  streamId: string,
  change: (record: StreamRecord) => void | false,
  options: UpdateOptions = {},
): Promise<VersionedRecord | undefined> {
  const now = options.now ?? Date.now
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const current = await store.get(streamId)
    if (!current && options.existing) return undefined
    const record = current?.record ?? freshRecord(streamId, now())
    if (change(record) === false) return current
    const revision = await store.put(streamId, record, current?.revision ?? null, options.lazy ? { lazy: true } : {})
    if (revision !== 'conflict') return { record, revision }
    // Writers that keep colliding: let them drift apart.
    if (attempt >= 2) await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(100, 2 ** attempt)))
  }
  throw new Error(`stream state of ${streamId.slice(0, 100)}: still changed by others after ${MAX_ATTEMPTS} tries`)
}

/** Tries of a delete without a revision, while writers keep replacing the record. */
const DELETE_TRIES = 8

/**
 * A store's `delete` over its own read and conditional delete: with an expected revision, only that one goes (a
 * record replaced meanwhile is a conflict); without, whatever the record is now, tried again while writers replace it.
 */
export async function deleteLatest<T>(
  streamId: string,
  expected: ((stored: T) => boolean) | undefined,
  store: { read(): Promise<T | undefined>; deleteAt(stored: T): Promise<boolean> },
): Promise<boolean | 'conflict'> {
  for (let attempt = 0; attempt < DELETE_TRIES; attempt++) {
    const stored = await store.read()
    if (!stored) return false
    if (expected && !expected(stored)) return 'conflict'
    if (await store.deleteAt(stored)) return true
    if (expected) return 'conflict' // replaced between the read and the delete
  }
  throw new Error(
    `stream state of ${streamId.slice(0, 100)}: still changed by others after ${DELETE_TRIES} tries to delete it`,
  )
}

/** The bounds a store keeps when its options name none (the config's own defaults). */
export const STREAM_STORE_DEFAULTS = {
  maxStreams: 10_000,
  keepEndedMs: 7 * 86_400_000,
  maxThumbnailBytes: 512 * 1024 * 1024,
}

/** Event ids are hex digests; anything else never names a thumbnail's file or key. */
export const EVENT_ID = /^[A-Za-z0-9_-]{1,64}$/
