/** The local stream store's record files: changes made while a write waits share it. */
import { afterEach, describe, expect, it } from 'vitest'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { streamRecordFiles, type StoredRecord } from '../../../src/backends/local/stream-record-files.ts'
import { freshRecord } from '../../../src/streams/stream-record.ts'
import { tempDir } from '../../support/files.ts'

const dir = tempDir('hookcast-record-files-')
afterEach(() => dir.remove())

describe('stream record files', () => {
  it('writes a stream once for changes made while its write waits, with the newest of them', async () => {
    let stored: StoredRecord = { record: freshRecord('s1', 1_000), revision: 1 }
    const written: Array<number | undefined> = []
    const files = streamRecordFiles(
      dir.path,
      () => stored,
      {
        failed(_task, _message, _fields, error) {
          throw error
        },
      },
      (_streamId, revision) => written.push(revision),
    )
    const syncs = [files.sync('s1')]
    for (const revision of [2, 3]) {
      stored = { ...stored, revision }
      syncs.push(files.sync('s1'))
    }
    await Promise.all(syncs)
    expect(written).toEqual([3])
    stored = { ...stored, revision: 4 }
    await files.sync('s1')
    expect(written).toEqual([3, 4])
    const [name] = readdirSync(dir.path)
    expect(JSON.parse(readFileSync(join(dir.path, name!), 'utf8')).revision).toBe(4)
    await files.close()
  })
})
