/**
 * The local signing key's creation, with the moment that raced made certain: a caller reads the key file and finds
 * none, and the answer reaches it only after another caller has made the key. CI caught the race once in the
 * contract's concurrent-calls test (two keys handed out); here it happens every time, and the test checks it did.
 */
import { afterAll, expect, it, vi } from 'vitest'
import { join } from 'node:path'
import { tempDir } from '../../support/files.ts'

/** While set, the next read of the key file is held: it says what it found (`read`), then answers at `until`. */
let holdRead: { read(outcome: string): void; until: Promise<void> } | undefined
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>()
  return {
    ...real,
    readFile: async (...args: Parameters<typeof real.readFile>) => {
      const hold = String(args[0]).endsWith('url-signing-key') ? holdRead : undefined
      if (!hold) return real.readFile(...args)
      holdRead = undefined
      const result = await real.readFile(...args).then(
        (data) => ({ data }),
        (error: NodeJS.ErrnoException) => ({ error }),
      )
      hold.read('error' in result ? String(result.error.code) : 'a key')
      await hold.until
      if ('error' in result) throw result.error
      return result.data
    },
  }
})
const { localSigningKeyStore } = await import('../../../src/backends/local/signing-key.ts')

const dir = tempDir('hookcast-signing-key-race-')
afterAll(() => dir.remove())

it('a caller that found no key never moves aside the key another caller made meanwhile', async () => {
  const store = localSigningKeyStore(join(dir.path, 'streams'))
  let release!: () => void
  const found = new Promise<string>((read) => {
    holdRead = {
      read,
      until: new Promise<void>((resolve) => {
        release = resolve
      }),
    }
  })
  const first = store.getOrCreate()
  expect(await found).toBe('ENOENT') // the first caller looked and found no key...
  const second = await store.getOrCreate() // ...and before it hears so, the second makes the key
  release()
  expect(await first).toEqual(second)
  expect(await store.getOrCreate()).toEqual(second)
})
