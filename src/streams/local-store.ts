/**
 * Stream state in a local directory: `streams.json` (rewritten atomically, writes of concurrent updates
 * coalesced) and the thumbnails the state refers to under `thumbnails/`.
 * @module
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { StreamRecord, StreamStore, ThumbnailRef } from './types.ts'
import type { Logger } from '../log.ts'

export interface LocalStreamStoreOptions {
  dir: string
  log: Logger
  now?: () => number
}

const FILE = 'streams.json'

export async function openLocalStreamStore(options: LocalStreamStoreOptions): Promise<StreamStore> {
  const now = options.now ?? Date.now
  const thumbs = join(options.dir, 'thumbnails')
  await mkdir(thumbs, { recursive: true })
  const records = new Map<string, StreamRecord>()
  const text = await readFile(join(options.dir, FILE), 'utf8').catch(() => undefined)
  if (text) {
    try {
      for (const record of JSON.parse(text) as StreamRecord[]) records.set(record.streamId, record)
    } catch (error) {
      options.log.error('stream state is unreadable; starting empty', { file: join(options.dir, FILE), error: String(error) })
    }
  }

  // One write at a time; updates arriving meanwhile share the next write.
  let writing: Promise<void> | undefined
  let dirty = false
  async function persist(): Promise<void> {
    dirty = true
    while (writing) await writing
    if (!dirty) return
    dirty = false
    writing = (async () => {
      const temp = join(options.dir, `${FILE}.tmp`)
      await writeFile(temp, JSON.stringify([...records.values()]))
      await rename(temp, join(options.dir, FILE))
    })().finally(() => { writing = undefined })
    await writing
  }

  let lazyTimer: ReturnType<typeof setTimeout> | undefined
  const persistSoon = () => {
    lazyTimer ??= setTimeout(() => {
      lazyTimer = undefined
      persist().catch((error) => options.log.error('cannot save stream state', { error: String(error) }))
    }, 1000)
  }

  const thumbFile = (streamId: string, eventId: string) => join(thumbs, `${encodeURIComponent(streamId)}.${eventId}.jpg`)

  return {
    get: (streamId) => records.get(streamId),
    all: () => [...records.values()],
    async update(streamId, change, lazy = false) {
      let record = records.get(streamId)
      if (!record) {
        record = { streamId, status: 'ended', feeds: {}, alerts: {}, emitted: {}, updatedAt: now() }
        records.set(streamId, record)
      }
      const before = [record.firstThumbnail?.eventId, record.latestThumbnail?.eventId]
      change(record)
      record.updatedAt = now()
      if (lazy) persistSoon()
      else await persist()
      // Thumbnail files the record no longer refers to go (after the state that drops them is written).
      const after = new Set([record.firstThumbnail?.eventId, record.latestThumbnail?.eventId])
      for (const eventId of before) if (eventId && !after.has(eventId)) await rm(thumbFile(streamId, eventId), { force: true })
      return record
    },
    async putThumbnail(ref, bytes) {
      const path = thumbFile(ref.event.streamId ?? '', ref.eventId)
      await writeFile(`${path}.tmp`, bytes)
      await rename(`${path}.tmp`, path)
    },
    thumbnail: (streamId, eventId) => readFile(thumbFile(streamId, eventId)).then((b) => new Uint8Array(b), () => undefined),
    async close() {
      if (lazyTimer) {
        clearTimeout(lazyTimer)
        lazyTimer = undefined
        await persist()
      }
      while (writing) await writing
    },
  }
}
