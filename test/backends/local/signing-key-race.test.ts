/**
 * The local signing key's creation, with the moment that raced made certain: a caller that found no key file is
 * held just before it would move "an unusable file" aside, while another caller makes the key. CI caught the race
 * once in the contract's concurrent-calls test (two keys handed out); here it happens every time.
 */
import { afterAll, expect, it, vi } from 'vitest'
import { join } from 'node:path'
import { tempDir } from '../../support/files.ts'

/** While set, the next rename of the key file waits for it (then the hook is gone). */
let holdRename: Promise<void> | undefined
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>()
  return {
    ...real,
    rename: async (from: string, to: string) => {
      const hold = holdRename
      holdRename = undefined
      await hold
      return real.rename(from, to)
    },
  }
})
const { localSigningKeyStore } = await import('../../../src/backends/local/signing-key.ts')

const dir = tempDir('hookcast-signing-key-race-')
afterAll(() => dir.remove())

it('a caller that found no key never moves aside the key another caller made meanwhile', async () => {
  const store = localSigningKeyStore(join(dir.path, 'streams'))
  let secondDone!: () => void
  holdRename = new Promise<void>((resolve) => { secondDone = resolve })
  const first = store.getOrCreate() // finds no file; were it to move one aside, it waits here for the second
  await new Promise((resolve) => setTimeout(resolve, 20))
  const second = await store.getOrCreate() // makes the key
  secondDone()
  expect(await first).toEqual(second)
  expect(await store.getOrCreate()).toEqual(second)
  holdRename = undefined
})
