/** With fsync on, a write is synced when it carries an accepted event; delivery state rides along with the next. */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { openSegmentLog } from '../../../src/backends/local/segment-log.ts'
import { tempDir } from '../../support/files.ts'

const dir = tempDir('hookcast-sync-batches-')
afterEach(() => {
  vi.restoreAllMocks()
  dir.remove()
})

describe('segment log with fsync', () => {
  it('syncs only the writes that carry a record asking for it', async () => {
    const probe = await open(join(dir.path, 'probe'), 'w')
    const datasync = vi.spyOn(Object.getPrototypeOf(probe) as { datasync(): Promise<void> }, 'datasync')
    await probe.close()
    const log = await openSegmentLog(
      { dir: join(dir.path, 'segments'), fsync: true, segmentBytes: 1 << 20, warn() {} },
      () => {},
    )
    const record = (byte: number) => [new Uint8Array(100).fill(byte)]
    await Promise.all([log.append(record(1), false), log.append(record(2), false)])
    expect(datasync).not.toHaveBeenCalled()
    // Written in one batch or two, the record that asks for a sync gets exactly one; the other rides along or has none.
    await Promise.all([log.append(record(3), false), log.append(record(4))])
    expect(datasync).toHaveBeenCalledTimes(1)
    await log.append(record(5))
    expect(datasync).toHaveBeenCalledTimes(2)
    await log.close()
  })
})
