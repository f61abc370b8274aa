/**
 * The S3 stream store's records: one object per stream, `<prefix>/streams/<streamKey>`, holding `{ rev, record }` as
 * JSON, whose ETag is the record's revision. `rev` is random per write, so one ETag is one content (S3's ETag is the
 * MD5 of the bytes): a stream made again never takes an old revision, and a record kept in memory by its ETag needs no
 * GET while listings show it unchanged.
 * @module
 */
import type { StreamRecord } from '../../streams/stream-types.ts'
import { cloneRecord, normaliseRecord } from '../../streams/stream-record.ts'
import { streamKey } from '../../streams/stream-key.ts'
import { listAll, type ListedObject, type Objects } from './objects.ts'
import type { StoreReport } from '../../streams/store-report.ts'

/** A record as stored: its object key, the ETag (its revision), its `rev`, and S3's Last-Modified (epoch ms). */
export interface S3Stored {
  key: string
  record: StreamRecord
  etag: string
  rev: string
  /** Epoch ms, whole seconds (S3's Last-Modified). */
  lastModified: number
}

/** Requests at once while reading many records. */
const CONCURRENCY = 16

export interface S3Records {
  /** The object key of a stream's record. */
  key(streamId: string): string
  /** The stream key (the hash) of a record's object key. */
  hashOf(key: string): string
  /** The object key of the record of a stream key. */
  keyOfHash(hash: string): string
  /** The record under `key` (fresh, the caller's copy); throws when it is not a record (of `streamId`, when given). */
  read(key: string, streamId?: string): Promise<S3Stored | undefined>
  /** Every record object (one LIST request per 1,000). */
  list(): Promise<ListedObject[]>
  /**
   * The records of `listed`, in that order: those known at the listed ETag from memory, the others read, at most
   * `budget` GETs and none once `deadline` (epoch ms) passed. Objects that are gone or not records are left out.
   * What it returns is shared: read it, do not change it.
   */
  load(listed: readonly ListedObject[], options?: { budget?: number; deadline?: number }): Promise<S3Stored[]>
  /** Forgets what is kept in memory of keys not in `listed` (a full listing). */
  retain(listed: readonly ListedObject[]): void
  /**
   * Deletes the record at exactly its ETag, then the stream's thumbnails stored no later than a second after it
   * (S3's times are whole seconds: one a new session stored within that second may go too, and its alert goes
   * without its picture, as after a crash); false when that version is no longer the current one.
   */
  deleteAt(stored: S3Stored): Promise<boolean>
}

interface S3RecordsOptions {
  objects: Objects
  /** `<prefix>/` or empty. */
  root: string
  now: () => number
  report: StoreReport
  /** Removes a stream's thumbnails stored at or before `until` (epoch ms). */
  removeThumbnails(hash: string, until: number): Promise<void>
  /** Records kept in memory at most. */
  maxKnown: number
}

const decoder = new TextDecoder()

/** What the steps below share: the options, the records' key prefix, and the records known by ETag. */
interface Records extends S3RecordsOptions {
  /** `<prefix>/streams/`. */
  prefix: string
  known: Map<string, Omit<S3Stored, 'lastModified'>>
}

export function s3Records(options: S3RecordsOptions): S3Records {
  const records: Records = { ...options, prefix: `${options.root}streams/`, known: new Map() }
  const { prefix } = records
  return {
    key: (streamId) => `${prefix}${streamKey(streamId)}`,
    hashOf: (key) => key.slice(prefix.length),
    keyOfHash: (hash) => `${prefix}${hash}`,
    read: (key, streamId) => readRecord(records, key, streamId),
    list: () => listAll(records.objects, prefix),
    load: (listed, loadOptions) => loadRecords(records, listed, loadOptions),
    retain(listed) {
      const keys = new Set(listed.map((object) => object.key))
      for (const key of records.known.keys()) if (!keys.has(key)) records.known.delete(key)
    },
    deleteAt: (stored) => deleteRecordAt(records, stored),
  }
}

async function readRecord(records: Records, key: string, streamId?: string): Promise<S3Stored | undefined> {
  const { objects } = records
  const got = await objects.get(key)
  if (!got) return undefined
  const decoded = decodeRecord(got.body, records.now())
  if (!decoded || (streamId !== undefined && decoded.record.streamId !== streamId)) {
    throw new Error(
      `stream state s3://${objects.bucket}/${key} is not a record${streamId ? ` of ${streamId.slice(0, 100)}` : ''}`,
    )
  }
  return { key, ...decoded, etag: got.etag, lastModified: got.lastModified }
}

function decodeRecord(bytes: Uint8Array, now: number): { record: StreamRecord; rev: string } | undefined {
  try {
    const raw = JSON.parse(decoder.decode(bytes)) as { rev?: unknown; record?: unknown }
    const record = normaliseRecord(raw.record, now)
    return record && typeof raw.rev === 'string' ? { record, rev: raw.rev } : undefined
  } catch {
    return undefined
  }
}

async function loadRecords(
  records: Records,
  listed: readonly ListedObject[],
  { budget = Infinity, deadline = Infinity }: { budget?: number; deadline?: number } = {},
): Promise<S3Stored[]> {
  const out: Array<S3Stored | undefined> = new Array(listed.length)
  const toRead: number[] = []
  listed.forEach((object, index) => {
    const hit = records.known.get(object.key)
    if (hit && hit.etag === object.etag) out[index] = { ...hit, lastModified: object.lastModified }
    else if (toRead.length < budget) toRead.push(index)
  })
  for (let i = 0; i < toRead.length && Date.now() < deadline; i += CONCURRENCY) {
    await Promise.all(
      toRead.slice(i, i + CONCURRENCY).map(async (index) => {
        // Not a record (another tool's object under the prefix): left alone, as the listing leaves it.
        const stored = await readRecord(records, listed[index]!.key).catch(() => undefined)
        if (!stored) return
        keep(records, stored)
        out[index] = stored
      }),
    )
  }
  return out.filter((stored): stored is S3Stored => stored !== undefined)
}

/** Remembers a record read at its ETag, the oldest remembered forgotten past `maxKnown`. */
function keep(records: Records, stored: S3Stored): void {
  const { known } = records
  known.delete(stored.key) // the newest last: the first is the one dropped past maxKnown
  known.set(stored.key, { key: stored.key, record: cloneRecord(stored.record), etag: stored.etag, rev: stored.rev })
  if (known.size > records.maxKnown) known.delete(known.keys().next().value!)
}

async function deleteRecordAt(records: Records, stored: S3Stored): Promise<boolean> {
  const outcome = await records.objects.delete(stored.key, stored.etag)
  if (outcome === 'conflict') return false
  records.known.delete(stored.key)
  // S3's times are whole seconds, rounded differently by HEAD and LIST on some stores: a second of slack.
  await records
    .removeThumbnails(stored.key.slice(records.prefix.length), stored.lastModified + 1_000)
    .catch((error) =>
      records.report.failed(
        'thumbnail-remove',
        "cannot remove a forgotten stream's thumbnails; the sweep retries",
        { stream: stored.record.streamId },
        error,
      ),
    )
  // 'missing' counts as done: this delete landed before a retry of it was refused (or another's did).
  return true
}
