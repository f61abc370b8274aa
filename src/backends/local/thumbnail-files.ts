/**
 * The local stream store's thumbnail files, under `thumbnails/` as `<stream key>.<event id>.jpg`: their sizes (the
 * store's byte bound counts them), and the files written that no record may refer to yet (`loose`), which the sweep
 * removes once nothing took them up.
 * @module
 */
import { readdir, readFile, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { streamKey } from '../../streams/stream-key.ts'
import type { StoreReport } from '../../streams/store-report.ts'
import { LOAD_BATCH, writeWhole } from './stream-record-files.ts'

export const THUMBNAILS = 'thumbnails'

/** The file of a stream's thumbnail. */
export const thumbName = (streamId: string, eventId: string) => `${streamKey(streamId)}.${eventId}.jpg`

export interface ThumbnailFiles {
  /** Bytes of every thumbnail file kept. */
  bytes(): number
  size(file: string): number | undefined
  /** Counts the file, then writes it (counted first, so writes under way at once cannot all pass a limit). */
  write(file: string, streamId: string, bytes: Uint8Array, at: number): Promise<void>
  /** Removes a file; a failure is logged, counted, and left to the sweep (never rejects). */
  remove(file: string, streamId: string): Promise<void>
  /** A file its record may no longer refer to, as of `at` (0: check at the next sweep). */
  markLoose(file: string, streamId: string, at: number): void
  /** A file a record refers to. */
  taken(file: string): void
  looseOf(streamId: string): string[]
  /** Removes loose files older than `before` that `referenced` does not claim. */
  sweep(before: number, referenced: (file: string, streamId: string) => boolean): Promise<void>
  read(file: string): Promise<Uint8Array | undefined>
  /** At start: counts the files records refer to (by file name, their stream) and removes every other one. */
  load(referenced: ReadonlyMap<string, string>): Promise<void>
}

export function thumbnailFiles(dir: string, report: Pick<StoreReport, 'failed'>): ThumbnailFiles {
  const sizes = new Map<string, number>()
  let total = 0
  const loose = new Map<string, { streamId: string; at: number }>()

  const uncount = (file: string) => {
    const size = sizes.get(file)
    if (size !== undefined) total -= size
    sizes.delete(file)
  }

  async function remove(file: string, streamId: string): Promise<void> {
    try {
      await rm(join(dir, file), { force: true })
      uncount(file)
      loose.delete(file)
    } catch (error) {
      loose.set(file, { streamId, at: 0 }) // the sweep tries again
      report.failed('thumbnail-remove', 'cannot remove a thumbnail file; the sweep retries', { file }, error)
    }
  }

  return {
    bytes: () => total,
    size: (file) => sizes.get(file),
    async write(file, streamId, bytes, at) {
      sizes.set(file, bytes.byteLength)
      total += bytes.byteLength
      loose.set(file, { streamId, at })
      try {
        await writeWhole(join(dir, file), bytes)
      } catch (error) {
        uncount(file)
        loose.delete(file)
        throw error
      }
    },
    remove,
    markLoose: (file, streamId, at) => {
      loose.set(file, { streamId, at })
    },
    taken: (file) => {
      loose.delete(file)
    },
    looseOf: (streamId) => [...loose].filter(([, entry]) => entry.streamId === streamId).map(([file]) => file),
    async sweep(before, referenced) {
      for (const [file, { streamId, at }] of [...loose]) {
        if (at > before) continue
        if (referenced(file, streamId)) loose.delete(file)
        else await remove(file, streamId)
      }
    },
    read: (file) =>
      readFile(join(dir, file)).then(
        (b) => new Uint8Array(b),
        () => undefined,
      ),
    async load(referenced) {
      const names = await readdir(dir)
      for (let i = 0; i < names.length; i += LOAD_BATCH) {
        await Promise.all(
          names.slice(i, i + LOAD_BATCH).map(async (name) => {
            const path = join(dir, name)
            // Temp files, and files a crash left before their record referred to them.
            if (!referenced.has(name)) return rm(path, { force: true, recursive: true })
            const size = await stat(path).then(
              (s) => s.size,
              () => undefined,
            )
            if (size === undefined) return
            sizes.set(name, size)
            total += size
          }),
        )
      }
    },
  }
}
