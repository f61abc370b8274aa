/**
 * An append-only log split into numbered segment files, with group commit.
 *
 * Appends that arrive while a write is in progress are written together in the next write (one writev, and one
 * fsync when `fsync` is on), so concurrent requests share the cost of persistence. A failed write is cut back off
 * the file, so nothing is half-kept. Segments are deleted whole, oldest first, once nothing in them is needed.
 * @module
 */
import { mkdir, open, readdir, rm, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { decodeHeader, decodePrefix, PREFIX_BYTES, type RecordKind } from './log-record.ts'

export interface SegmentLogOptions {
  dir: string
  fsync: boolean
  segmentBytes: number
  warn(message: string, fields?: Record<string, unknown>): void
}

/** Where an appended record landed. */
interface RecordRef {
  segment: number
  offset: number
}

export interface ScannedRecord {
  kind: RecordKind
  header: unknown
  ref: RecordRef
  /** Offset of the body within the segment, and its length. */
  bodyOffset: number
  bodyLength: number
}

export interface SegmentLog {
  /**
   * Appends a record; resolves once it is written (and, with `fsync`, synced when `sync` is not false: delivery
   * state can ride along with the next sync, since losing it only repeats a delivery).
   */
  append(parts: Uint8Array[], sync?: boolean): Promise<RecordRef>
  read(segment: number, offset: number, length: number): Promise<Uint8Array>
  /** Segment numbers on disk, oldest first; the last is the one being written. */
  segments(): number[]
  current(): number
  deleteSegment(segment: number): Promise<void>
  totalBytes(): number
  close(): Promise<void>
}

/** An append waiting for the next write. */
interface Waiting {
  parts: Uint8Array[]
  size: number
  sync: boolean
  resolve(ref: RecordRef): void
  reject(error: unknown): void
}

/** The open log, shared by its steps: the segment being written changes as it fills up. */
interface LogState {
  options: SegmentLogOptions
  /** Bytes of each segment on disk. */
  sizes: Map<number, number>
  total: number
  current: number
  writer: FileHandle
  readers: Map<number, Promise<FileHandle>>
  waiting: Waiting[]
  /** The write loop, while it runs: appends that come meanwhile join its next batch. */
  flushing: Promise<void> | undefined
}

const MAX_IOVECS = 512
const SCAN_CHUNK = 1024 * 1024

const fileName = (segment: number) => `${String(segment).padStart(10, '0')}.log`

/** Opens the log in `dir`, calling `onRecord` for every intact record already there, in order. */
export async function openSegmentLog(
  options: SegmentLogOptions,
  onRecord: (record: ScannedRecord) => void,
): Promise<SegmentLog> {
  await mkdir(options.dir, { recursive: true })
  const sizes = await scanSegments(options, onRecord)
  const current = [...sizes.keys()].at(-1) ?? 1
  const writer = await open(join(options.dir, fileName(current)), 'a')
  if (!sizes.has(current)) {
    sizes.set(current, 0)
    await syncDir(options)
  }
  const total = [...sizes.values()].reduce((a, b) => a + b, 0)
  const log: LogState = { options, sizes, total, current, writer, readers: new Map(), waiting: [], flushing: undefined }
  return {
    append(parts, sync = true) {
      return new Promise<RecordRef>((resolve, reject) => {
        log.waiting.push({ parts, size: parts.reduce((n, p) => n + p.byteLength, 0), sync, resolve, reject })
        log.flushing ??= flush(log)
      })
    },
    read: (segment, offset, length) => readAt(log, segment, offset, length),
    segments: () => [...sizes.keys()].sort((a, b) => a - b),
    current: () => log.current,
    deleteSegment: (segment) => deleteSegment(log, segment),
    totalBytes: () => log.total,
    close: () => closeLog(log),
  }
}

/** Scans the segments on disk, oldest first; returns the size kept of each. */
async function scanSegments(
  options: SegmentLogOptions,
  onRecord: (record: ScannedRecord) => void,
): Promise<Map<number, number>> {
  const sizes = new Map<number, number>()
  const existing = (await readdir(options.dir))
    .filter((name) => /^\d{10}\.log$/.test(name))
    .map((name) => Number(name.slice(0, 10)))
    .sort((a, b) => a - b)
  for (const [index, segment] of existing.entries()) {
    sizes.set(segment, await scanSegment(options, segment, index === existing.length - 1, onRecord))
  }
  return sizes
}

/** Writes what is waiting, a batch at a time, until nothing is. */
async function flush(log: LogState): Promise<void> {
  while (log.waiting.length > 0) {
    const batch = log.waiting
    log.waiting = []
    try {
      const refs = await writeBatch(log, batch)
      for (const [i, w] of batch.entries()) w.resolve(refs[i]!)
    } catch (error) {
      for (const w of batch) w.reject(error)
    }
  }
  log.flushing = undefined
}

async function writeBatch(log: LogState, batch: Waiting[]): Promise<RecordRef[]> {
  const { options, sizes } = log
  const bytes = batch.reduce((n, w) => n + w.size, 0)
  if (sizes.get(log.current)! > 0 && sizes.get(log.current)! + bytes > options.segmentBytes) await rotate(log)
  const start = sizes.get(log.current)!
  const parts = batch.flatMap((w) => w.parts)
  try {
    for (let i = 0; i < parts.length; i += MAX_IOVECS) {
      const slice = parts.slice(i, i + MAX_IOVECS)
      const want = slice.reduce((n, p) => n + p.byteLength, 0)
      const { bytesWritten } = await log.writer.writev(slice)
      if (bytesWritten !== want) throw new Error(`short write (${bytesWritten} of ${want} bytes)`)
    }
    if (options.fsync && batch.some((w) => w.sync)) await log.writer.datasync()
  } catch (error) {
    // Cut the partial batch off so the next record starts on a clean boundary; if that fails too, leave
    // this segment and continue in a fresh one (recovery stops reading a segment at its torn tail).
    await log.writer.truncate(start).catch(async () => {
      options.warn('could not cut a failed write off the spool segment; starting a new one', {
        segment: log.current,
      })
      sizes.set(log.current, start)
      await rotate(log).catch(() => {})
    })
    throw error
  }
  sizes.set(log.current, start + bytes)
  log.total += bytes
  let offset = start
  return batch.map((w) => {
    const ref = { segment: log.current, offset }
    offset += w.size
    return ref
  })
}

async function rotate(log: LogState): Promise<void> {
  if (log.options.fsync) await log.writer.datasync()
  await log.writer.close()
  log.current += 1
  log.writer = await open(join(log.options.dir, fileName(log.current)), 'a')
  log.sizes.set(log.current, 0)
  await syncDir(log.options)
}

async function readAt(log: LogState, segment: number, offset: number, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length)
  const { bytesRead } = await (await reader(log, segment)).read(out, 0, length, offset)
  if (bytesRead !== length) throw new Error(`spool segment ${segment} ends before offset ${offset + length}`)
  return out
}

/** A read handle per segment, opened at its first read and kept until the segment goes. */
function reader(log: LogState, segment: number): Promise<FileHandle> {
  let handle = log.readers.get(segment)
  if (!handle) {
    handle = open(join(log.options.dir, fileName(segment)), 'r')
    log.readers.set(segment, handle)
    handle.catch(() => log.readers.delete(segment))
  }
  return handle
}

async function deleteSegment(log: LogState, segment: number): Promise<void> {
  if (segment === log.current) return
  const handle = log.readers.get(segment)
  log.readers.delete(segment)
  await handle?.then((h) => h.close()).catch(() => {})
  await rm(join(log.options.dir, fileName(segment)), { force: true })
  log.total -= log.sizes.get(segment) ?? 0
  log.sizes.delete(segment)
}

async function closeLog(log: LogState): Promise<void> {
  await log.flushing
  if (log.options.fsync) await log.writer.datasync().catch(() => {})
  await log.writer.close()
  await Promise.all([...log.readers.values()].map((h) => h.then((x) => x.close()).catch(() => {})))
  log.readers.clear()
}

/**
 * Reads every intact record of a segment; returns the size kept. A torn record at the end of the newest segment
 * (a crash mid-write: it was never acknowledged) is cut off so appends continue on a clean boundary.
 */
async function scanSegment(
  options: SegmentLogOptions,
  segment: number,
  isLast: boolean,
  onRecord: (record: ScannedRecord) => void,
): Promise<number> {
  const path = join(options.dir, fileName(segment))
  const handle = await open(path, isLast ? 'r+' : 'r')
  try {
    const size = (await handle.stat()).size
    let position = 0
    let chunk = new Uint8Array(0)
    let chunkStart = 0
    const ensure = async (from: number, length: number): Promise<boolean> => {
      if (from >= chunkStart && from + length <= chunkStart + chunk.byteLength) return true
      if (from + length > size) return false
      chunk = new Uint8Array(Math.max(length, Math.min(SCAN_CHUNK, size - from)))
      const { bytesRead } = await handle.read(chunk, 0, chunk.byteLength, from)
      chunk = chunk.subarray(0, bytesRead)
      chunkStart = from
      return bytesRead >= length
    }
    while (position < size) {
      if (!(await ensure(position, PREFIX_BYTES))) break
      const prefix = decodePrefix(chunk, position - chunkStart)
      if (!prefix || position + prefix.size > size) break
      if (!(await ensure(position, PREFIX_BYTES + prefix.headerLength))) break
      const header = decodeHeader(chunk, position - chunkStart, prefix)
      if (header === undefined) break
      const bodyOffset = position + PREFIX_BYTES + prefix.headerLength
      onRecord({
        kind: prefix.kind,
        header,
        ref: { segment, offset: position },
        bodyOffset,
        bodyLength: position + prefix.size - bodyOffset,
      })
      position += prefix.size
    }
    if (position < size) {
      options.warn('spool segment has a torn or corrupt record; ignoring the rest of it', {
        segment,
        at: position,
        size,
      })
      if (isLast) await handle.truncate(position)
    }
    return isLast ? position : size
  } finally {
    await handle.close()
  }
}

/** Makes a new file's directory entry durable (fsync mode); not every platform can, so failures are ignored. */
async function syncDir(options: SegmentLogOptions): Promise<void> {
  if (!options.fsync) return
  try {
    const dir = await open(options.dir, 'r')
    await dir.sync().finally(() => dir.close())
  } catch {
    // Directory fsync is unsupported on some systems; file data is still synced.
  }
}
