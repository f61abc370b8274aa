/** The segment log keeps nothing of a write that failed: the next record starts where the last whole one ended. */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { open, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { openSegmentLog } from '../../../src/backends/local/segment-log.ts'
import { encodeRecord } from '../../../src/backends/local/log-record.ts'
import { tempDir } from '../../support/files.ts'

const dir = tempDir('hookcast-segment-log-')
afterEach(() => {
  vi.restoreAllMocks()
  dir.remove()
})

describe('segment log', () => {
  it('cuts a failed write off the segment, so the records after it are read back', async () => {
    const probe = await open(join(dir.path, 'probe'), 'w')
    const handles = Object.getPrototypeOf(probe) as { writev: FileHandle['writev'] }
    await probe.close()
    const options = { dir: join(dir.path, 'segments'), fsync: false, segmentBytes: 1 << 20, warn() {} }
    const record = (n: number) => encodeRecord('E', { n }, new Uint8Array(50).fill(n))
    const log = await openSegmentLog(options, () => {})
    const first = await log.append(record(1))

    // Part of the record lands on disk, then the write fails (a full disk).
    const writev = handles.writev
    vi.spyOn(handles, 'writev').mockImplementationOnce(async function (this: FileHandle, buffers) {
      await writev.call(this, [(buffers[0] as Uint8Array).subarray(0, 20)])
      throw new Error('no space left on device')
    })
    await expect(log.append(record(2))).rejects.toThrow('no space left on device')
    const third = await log.append(record(3))
    const size = record(1).reduce((n, part) => n + part.byteLength, 0)
    expect(third).toEqual({ segment: first.segment, offset: first.offset + size })
    await log.close()

    const read: unknown[] = []
    const again = await openSegmentLog(options, (scanned) => read.push(scanned.header))
    expect(read).toEqual([{ n: 1 }, { n: 3 }])
    await again.close()
  })
})
