/**
 * Earlier versions kept every stream in one `streams.json`, and thumbnails named by the URL-encoded stream id: moved
 * to one file per stream (and hash-named thumbnails) at the first start.
 * @module
 */
import { readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { STREAM_LIMITS } from '../../streams/stream-types.ts'
import { normaliseRecord } from '../../streams/stream-record.ts'
import type { Logger } from '../../log.ts'
import { streamKey } from '../../streams/stream-key.ts'
import { recordJson, writeWhole } from './stream-record-files.ts'
import { thumbName } from './thumbnail-files.ts'
import { EVENT_ID } from '../../streams/stream-store.ts'

const LEGACY_FILE = 'streams.json'

export async function migrateStreamsJson(
  dir: string,
  recordsDir: string,
  thumbsDir: string,
  log: Logger,
  now: number,
): Promise<void> {
  const file = join(dir, LEGACY_FILE)
  const text = await readFile(file, 'utf8').catch(() => undefined)
  if (text === undefined) return
  let list: unknown
  try {
    list = JSON.parse(text)
    if (!Array.isArray(list)) throw new Error('not a list of streams')
  } catch (error) {
    log.error('stream state is unreadable; starting empty (the file is kept aside)', { file, error: String(error) })
    await rename(file, `${file}.unreadable`)
    return
  }
  let moved = 0
  for (const raw of list) {
    const record = normaliseRecord(raw, now)
    if (!record || record.streamId.length > STREAM_LIMITS.streamIdLength) continue
    for (const ref of [record.firstThumbnail, record.latestThumbnail]) {
      if (!ref || !EVENT_ID.test(ref.eventId)) continue
      const legacy = join(thumbsDir, `${encodeURIComponent(record.streamId)}.${ref.eventId}.jpg`)
      await rename(legacy, join(thumbsDir, thumbName(record.streamId, ref.eventId))).catch(() => {})
    }
    await writeWhole(join(recordsDir, `${streamKey(record.streamId)}.json`), recordJson({ record, revision: 1 }))
    moved++
  }
  await rm(file)
  await rm(`${file}.tmp`, { force: true })
  log.info('stream state moved to one file per stream', { streams: moved, dir: recordsDir })
}
