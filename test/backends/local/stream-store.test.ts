/**
 * The stream store contract against the local directory store, reopened from its files; its bounds are in
 * test/streams/bounds.test.ts.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { openLocalStreamStore } from '../../../src/backends/local/stream-store.ts'
import { silentLogger } from '../../../src/log.ts'
import { tempDir } from '../../support/files.ts'
import { streamStoreContract } from '../../streams/stream-store.contract.ts'
import { freshRecord } from '../../../src/streams/stream-record.ts'
import type { ThumbnailRef } from '../../../src/streams/stream-types.ts'
import { makeEvent } from '../../support/events.ts'

const dirs: Array<ReturnType<typeof tempDir>> = []
afterAll(() => {
  for (const dir of dirs) dir.remove()
})
const open = (dir: string) => openLocalStreamStore({ dir, log: silentLogger })

streamStoreContract({
  name: 'local',
  async open() {
    dirs.push(tempDir('hookcast-stream-store-'))
    return open(dirs.at(-1)!.path)
  },
  reopen: () => open(dirs.at(-1)!.path),
})

describe('local stream store: lazy changes and a crash', () => {
  it('keeps the thumbnail the record on disk refers to until the change that drops it is written', async () => {
    const dir = tempDir('hookcast-stream-crash-')
    dirs.push(dir)
    const store = await open(dir.path)
    const stream = 'ZG6NWV/lobby'
    const thumb = (eventId: string): ThumbnailRef => ({
      eventId,
      timestamp: 1,
      event: { ...makeEvent({ id: eventId, streamId: stream }), body: undefined, data: undefined } as never,
    })
    await store.putThumbnail(thumb('old'), new Uint8Array([1, 2, 3]))
    await store.put(stream, { ...freshRecord(stream, 0), latestThumbnail: thumb('old') }, null)
    // The latest thumbnail changes lazily (written in about a second), and the process is killed right away.
    await store.putThumbnail(thumb('new'), new Uint8Array([4, 5, 6]))
    const current = (await store.get(stream))!
    await store.put(stream, { ...current.record, latestThumbnail: thumb('new') }, current.revision, { lazy: true })
    const restarted = await open(dir.path) // what a restart finds on disk now
    const record = (await restarted.get(stream))!.record
    expect(record.latestThumbnail?.eventId).toBe('old')
    expect(await restarted.thumbnail(stream, 'old')).toEqual(new Uint8Array([1, 2, 3]))
    await store.close()
    await restarted.close()
  })
})
