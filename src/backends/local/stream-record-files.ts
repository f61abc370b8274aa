/**
 * The local stream store's record files: one small JSON file per stream under `records/`, named by a hash of the
 * stream id (any valid id fits a file name, and no id reaches a path), holding the record and its revision. A write
 * replaces the file (temp file, then rename), so no reader sees half of one; writes of concurrent changes to one
 * stream are coalesced, and lazy ones wait a second to be shared.
 * @module
 */
import { randomUUID } from 'node:crypto'
import { streamKey } from '../../streams/stream-key.ts'
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { StreamRecord } from '../../streams/stream-types.ts'
import { normaliseRecord } from '../../streams/stream-record.ts'
import type { Logger } from '../../log.ts'
import type { StoreReport } from '../../streams/store-report.ts'

export const RECORDS = 'records'
/** Lazy changes wait this long to share a write. */
const LAZY_MS = 1_000
/** A failed background write is retried after this, doubling up to MAX_RETRY_MS. */
export const RETRY_MS = 1_000
const MAX_RETRY_MS = 30_000
/** Files read at once while loading. */
export const LOAD_BATCH = 64

/** A record as this store keeps it: with its revision, a counter kept in the record's file. */
export interface StoredRecord {
  record: StreamRecord
  revision: number
}

/** Writes a file whole: a temp file beside it, then a rename over it. */
export async function writeWhole(path: string, data: string | Uint8Array): Promise<void> {
  const temp = `${path}.${randomUUID()}.tmp`
  try {
    await writeFile(temp, data)
    await rename(temp, path)
  } catch (error) {
    await rm(temp, { force: true }).catch(() => {})
    throw error
  }
}

export const recordJson = (stored: StoredRecord) => JSON.stringify({ ...stored.record, revision: stored.revision })

export interface StreamRecordFiles {
  /**
   * Brings a stream's file in line with `current` (written, or removed when there is no record); calls made while a
   * write waits share it.
   */
  sync(streamId: string): Promise<void>
  /** Writes the stream's file in about a second, with other lazy changes; a failure is logged, counted and retried. */
  later(streamId: string, delayMs?: number): void
  /** Drops a lazy write still to come (a `sync` writes the same, or the stream is gone). */
  cancel(streamId: string): void
  /** Writes what is still to be written, and waits for writes under way. */
  close(): Promise<void>
}

/** What the writes of record files share. */
interface Writes {
  dir: string
  current: (streamId: string) => StoredRecord | undefined
  report: Pick<StoreReport, 'failed'>
  written: (streamId: string, revision: number | undefined) => void
  /** One write at a time per stream; changes meanwhile share the next one. */
  slots: Map<string, { tail: Promise<void>; next?: Promise<void> }>
  /** Streams a timer writes: lazy changes, and changes whose write failed (retried with a backoff). */
  lazy: Set<string>
  timer: ReturnType<typeof setTimeout> | undefined
  retries: number
  flushing: Promise<void> | undefined
  closed: boolean
}

export function streamRecordFiles(
  dir: string,
  current: (streamId: string) => StoredRecord | undefined,
  report: Pick<StoreReport, 'failed'>,
  /** Told after a stream's file was written, with the revision written (what it no longer refers to may go now). */
  written: (streamId: string, revision: number | undefined) => void = () => {},
): StreamRecordFiles {
  const writes: Writes = {
    dir,
    current,
    report,
    written,
    slots: new Map(),
    lazy: new Set(),
    timer: undefined,
    retries: 0,
    flushing: undefined,
    closed: false,
  }
  return {
    sync: (streamId) => sync(writes, streamId),
    later(streamId, delayMs = LAZY_MS) {
      writes.lazy.add(streamId)
      schedule(writes, delayMs)
    },
    cancel: (streamId) => {
      writes.lazy.delete(streamId)
    },
    close: () => closeWrites(writes),
  }
}

const recordPath = (dir: string, streamId: string) => join(dir, `${streamKey(streamId)}.json`)

function sync(writes: Writes, streamId: string): Promise<void> {
  const { slots } = writes
  let slot = slots.get(streamId)
  if (slot?.next) return slot.next
  if (!slot) {
    slot = { tail: Promise.resolve() }
    slots.set(streamId, slot)
  }
  const mine = slot
  const run = mine.tail
    .catch(() => {})
    .then(() => {
      mine.next = undefined // changes from now on need another write
      const stored = writes.current(streamId)
      const path = recordPath(writes.dir, streamId)
      return (stored ? writeWhole(path, recordJson(stored)) : rm(path, { force: true })).then(() =>
        writes.written(streamId, stored?.revision),
      )
    })
  mine.next = run
  mine.tail = run
  void run
    .catch(() => {})
    .then(() => {
      if (mine.tail === run && !mine.next) slots.delete(streamId)
    })
  return run
}

function schedule(writes: Writes, ms: number): void {
  if (writes.closed) return
  writes.timer ??= setTimeout(() => {
    writes.timer = undefined
    writes.flushing = flush(writes)
      .catch((error) => writes.report.failed('state-write', 'cannot save stream state; retrying', {}, error))
      .finally(() => {
        writes.flushing = undefined
      })
  }, ms)
}

/** Writes the streams the timer is for; those that fail wait for the next timer, later at each failure. */
async function flush(writes: Writes): Promise<void> {
  const ids = [...writes.lazy]
  writes.lazy.clear()
  let failures = 0
  for (const streamId of ids) {
    try {
      await sync(writes, streamId)
    } catch (error) {
      failures++
      writes.lazy.add(streamId)
      if (failures === 1)
        writes.report.failed(
          'state-write',
          'cannot save stream state; retrying',
          { stream: streamId, pending: ids.length },
          error,
        )
    }
  }
  if (writes.lazy.size === 0) {
    writes.retries = 0
    return
  }
  schedule(writes, failures > 0 ? Math.min(MAX_RETRY_MS, RETRY_MS * 2 ** writes.retries++) : LAZY_MS)
}

async function closeWrites(writes: Writes): Promise<void> {
  writes.closed = true
  clearTimeout(writes.timer)
  writes.timer = undefined
  await writes.flushing
  for (const streamId of [...writes.lazy]) {
    writes.lazy.delete(streamId)
    await sync(writes, streamId).catch((error) =>
      writes.report.failed(
        'state-write',
        'cannot save stream state at close; the change is lost',
        { stream: streamId },
        error,
      ),
    )
  }
  while (writes.slots.size > 0) await Promise.all([...writes.slots.values()].map((slot) => slot.tail.catch(() => {})))
}

/**
 * Reads every record file (oldest change first, so the eviction order survives a restart). A file that is not a
 * stream's record with this name is moved aside; temp files of a crash are removed.
 */
export async function loadStreamRecords(dir: string, log: Logger, now: number): Promise<StoredRecord[]> {
  const loaded: StoredRecord[] = []
  const names = await readdir(dir)
  for (let i = 0; i < names.length; i += LOAD_BATCH) {
    await Promise.all(
      names.slice(i, i + LOAD_BATCH).map(async (name) => {
        const path = join(dir, name)
        if (name.endsWith('.tmp')) return rm(path, { force: true })
        if (!name.endsWith('.json')) return
        try {
          const { revision, ...raw } = JSON.parse(await readFile(path, 'utf8')) as { revision?: unknown }
          const record = normaliseRecord(raw, now)
          if (!record || `${streamKey(record.streamId)}.json` !== name)
            throw new Error('not the record of a stream with this file name')
          loaded.push({ record, revision: Number.isSafeInteger(revision) ? (revision as number) : 0 })
        } catch (error) {
          log.error('a stream state file is unreadable; moved aside', { file: path, error: String(error) })
          await rename(path, `${path}.unreadable`).catch(() => {})
        }
      }),
    )
  }
  return loaded.sort((a, b) => a.record.updatedAt - b.record.updatedAt)
}
