/** The signing key store contract against memory and a local directory; links signed before a restart still check. */
import { afterAll, describe, expect, it } from 'vitest'
import { readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { memorySigningKeyStore } from '../../src/streams/signing-key.ts'
import { localSigningKeyStore, SIGNING_KEY_FILE } from '../../src/backends/local/signing-key.ts'
import { createThumbnailLinks } from '../../src/streams/thumbnail-links.ts'
import type { ThumbnailRef } from '../../src/streams/stream-types.ts'
import { tempDir } from '../support/files.ts'
import { signingKeyContract } from './signing-key.contract.ts'

const dirs: Array<ReturnType<typeof tempDir>> = []
afterAll(() => {
  for (const dir of dirs) dir.remove()
})
const fresh = () => {
  dirs.push(tempDir('hookcast-signing-key-'))
  return join(dirs.at(-1)!.path, 'streams') // not there yet: made on first use
}

signingKeyContract({ name: 'memory', open: memorySigningKeyStore })
signingKeyContract({
  name: 'local',
  open: () => localSigningKeyStore(fresh()),
  openAgain: () => localSigningKeyStore(join(dirs.at(-1)!.path, 'streams')),
})

describe('local signing key', () => {
  it('is a file only its owner reads, with no temp file left; an unusable one is replaced', async () => {
    const dir = fresh()
    const key = await localSigningKeyStore(dir).getOrCreate()
    expect(readdirSync(dir)).toEqual([SIGNING_KEY_FILE])
    if (process.platform !== 'win32') expect(statSync(join(dir, SIGNING_KEY_FILE)).mode & 0o777).toBe(0o600)
    writeFileSync(join(dir, SIGNING_KEY_FILE), 'c2hvcnQ=') // 5 bytes: too short to sign with
    const replaced = await localSigningKeyStore(dir).getOrCreate()
    expect(replaced.byteLength).toBe(32)
    expect(replaced).not.toEqual(key)
    expect(await localSigningKeyStore(dir).getOrCreate()).toEqual(replaced)
  })

  it('signs thumbnail links that another instance, or the same after a restart, accepts', async () => {
    const dir = fresh()
    const ref = { eventId: 'a'.repeat(24), timestamp: 1, event: { streamId: 'ZG6NWV/show' } } as ThumbnailRef
    const url = new URL(
      await (await createThumbnailLinks(localSigningKeyStore(dir))).url('https://hooks.example', ref, 60_000),
    )
    const check = (await createThumbnailLinks(localSigningKeyStore(dir))).check
    expect(
      await check(url.pathname, url.searchParams.get('exp') ?? undefined, url.searchParams.get('sig') ?? undefined),
    ).toBe(true)
    const other = await createThumbnailLinks(localSigningKeyStore(fresh()))
    expect(
      await other.check(
        url.pathname,
        url.searchParams.get('exp') ?? undefined,
        url.searchParams.get('sig') ?? undefined,
      ),
    ).toBe(false)
  })
})
