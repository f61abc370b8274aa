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

export interface LogOptions {
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

const MAX_IOVECS = 512
const SCAN_CHUNK = 1024 * 1024

const fileName = (segment: number) => `${String(segment).padStart(10, '0')}.log`

/** Opens the log in `dir`, calling `onRecord` for every intact record already there, in order. */
export async function openSegmentLog(
  options: LogOptions,
  onRecord: (record: ScannedRecord) => void,
): Promise<SegmentLog> {
  await mkdir(options.dir, { recursive: true })
  const sizes = new Map<number, number>()
  const existing = (await readdir(options.dir))
    .filter((name) => /^\d{10}\.log$/.test(name))
    .map((name) => Number(name.slice(0, 10)))
    .sort((a, b) => a - b)
  for (const [index, segment] of existing.entries()) {
    sizes.set(segment, await scanSegment(options, segment, index === existing.length - 1, onRecord))
  }

  let currentSegment = existing.at(-1) ?? 1
  let writer = await open(join(options.dir, fileName(currentSegment)), 'a')
  if (!sizes.has(currentSegment)) {
    sizes.set(currentSegment, 0)
    await syncDir(options)
  }
  const readers = new Map<number, Promise<FileHandle>>()
  let total = [...sizes.values()].reduce((a, b) => a + b, 0)

  interface Waiting {
    parts: Uint8Array[]
    size: number
    sync: boolean
    resolve(ref: RecordRef): void
    reject(error: unknown): void
  }
  let queue: Waiting[] = []
  let flushing: Promise<void> | undefined

  async function rotate(): Promise<void> {
    if (options.fsync) await writer.datasync()
    await writer.close()
    currentSegment += 1
    writer = await open(join(options.dir, fileName(currentSegment)), 'a')
    sizes.set(currentSegment, 0)
    await syncDir(options)
  }

  async function writeBatch(batch: Waiting[]): Promise<RecordRef[]> {
    const bytes = batch.reduce((n, w) => n + w.size, 0)
    if (sizes.get(currentSegment)! > 0 && sizes.get(currentSegment)! + bytes > options.segmentBytes) await rotate()
    const start = sizes.get(currentSegment)!
    const parts = batch.flatMap((w) => w.parts)
    try {
      for (let i = 0; i < parts.length; i += MAX_IOVECS) {
        const slice = parts.slice(i, i + MAX_IOVECS)
        const want = slice.reduce((n, p) => n + p.byteLength, 0)
        const { bytesWritten } = await writer.writev(slice)
        if (bytesWritten !== want) throw new Error(`short write (${bytesWritten} of ${want} bytes)`)
      }
      if (options.fsync && batch.some((w) => w.sync)) await writer.datasync()
    } catch (error) {
      // Cut the partial batch off so the next record starts on a clean boundary; if that fails too, leave
      // this segment and continue in a fresh one (recovery stops reading a segment at its torn tail).
      await writer.truncate(start).catch(async () => {
        options.warn('could not cut a failed write off the spool segment; starting a new one', {
          segment: currentSegment,
        })
        sizes.set(currentSegment, start)
        await rotate().catch(() => {})
      })
      throw error
    }
    sizes.set(currentSegment, start + bytes)
    total += bytes
    let offset = start
    return batch.map((w) => {
      const ref = { segment: currentSegment, offset }
      offset += w.size
      return ref
    })
  }

  async function flush(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue
      queue = []
      try {
        const refs = await writeBatch(batch)
        for (const [i, w] of batch.entries()) w.resolve(refs[i]!)
      } catch (error) {
        for (const w of batch) w.reject(error)
      }
    }
    flushing = undefined
  }

  function reader(segment: number): Promise<FileHandle> {
    let handle = readers.get(segment)
    if (!handle) {
      handle = open(join(options.dir, fileName(segment)), 'r')
      readers.set(segment, handle)
      handle.catch(() => readers.delete(segment))
    }
    return handle
  }

  return {
    append(parts, sync = true) {
      return new Promise<RecordRef>((resolve, reject) => {
        queue.push({ parts, size: parts.reduce((n, p) => n + p.byteLength, 0), sync, resolve, reject })
        flushing ??= flush()
      })
    },
    async read(segment, offset, length) {
      const out = new Uint8Array(length)
      const { bytesRead } = await (await reader(segment)).read(out, 0, length, offset)
      if (bytesRead !== length) throw new Error(`spool segment ${segment} ends before offset ${offset + length}`)
      return out
    },
    segments: () => [...sizes.keys()].sort((a, b) => a - b),
    current: () => currentSegment,
    async deleteSegment(segment) {
      if (segment === currentSegment) return
      const handle = readers.get(segment)
      readers.delete(segment)
      await handle?.then((h) => h.close()).catch(() => {})
      await rm(join(options.dir, fileName(segment)), { force: true })
      total -= sizes.get(segment) ?? 0
      sizes.delete(segment)
    },
    totalBytes: () => total,
    async close() {
      await flushing
      if (options.fsync) await writer.datasync().catch(() => {})
      await writer.close()
      await Promise.all([...readers.values()].map((h) => h.then((x) => x.close()).catch(() => {})))
      readers.clear()
    },
  }
}

/**
 * Reads every intact record of a segment; returns the size kept. A torn record at the end of the newest segment
 * (a crash mid-write: it was never acknowledged) is cut off so appends continue on a clean boundary.
 */
async function scanSegment(
  options: LogOptions,
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
async function syncDir(options: LogOptions): Promise<void> {
  if (!options.fsync) return
  try {
    const dir = await open(options.dir, 'r')
    await dir.sync().finally(() => dir.close())
  } catch {
    // Directory fsync is unsupported on some systems; file data is still synced.
  }
}
