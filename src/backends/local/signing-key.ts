/**
 * The thumbnail-link signing key in a local file (`url-signing-key`, base64, mode 0600) beside the stream state, so
 * links survive restarts. Created atomically: the key is written whole to a temp file and hard-linked into place,
 * which fails when a key is already there; then the file is read back, so concurrent creators all get the winner.
 * @module
 */
import { link, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { decodeBase64, toBase64 } from '../../util/encoding.ts'
import { newSigningKey, SIGNING_KEY_BYTES, type SigningKeyStore } from '../../streams/signing-key.ts'

export const SIGNING_KEY_FILE = 'url-signing-key'

export function localSigningKeyStore(dir: string): SigningKeyStore {
  const file = join(dir, SIGNING_KEY_FILE)
  /** The key in `path`; `missing` when there is no such file, undefined when it holds no usable key. */
  const readKey = async (path: string): Promise<Uint8Array | 'missing' | undefined> => {
    let text: string
    try {
      text = await readFile(path, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing'
      return undefined
    }
    const key = decodeBase64(text.trim())
    return key && key.byteLength >= SIGNING_KEY_BYTES ? key : undefined
  }
  const read = async () => {
    const key = await readKey(file)
    return key instanceof Uint8Array ? key : undefined
  }
  return {
    async getOrCreate() {
      const existing = await readKey(file)
      if (existing instanceof Uint8Array) return existing
      await mkdir(dir, { recursive: true })
      // A file that holds no usable key (empty, cut short) is moved aside. Never a missing one: between our read
      // and the move, a concurrent creator may have put its key there. If what was moved turns out to be a key
      // (made in that moment), it goes back; a creator that got there first meanwhile keeps its own.
      if (existing === undefined) {
        const aside = `${file}.unusable-${randomUUID()}`
        if (
          await rename(file, aside).then(
            () => true,
            () => false,
          )
        ) {
          if ((await readKey(aside)) instanceof Uint8Array) {
            await link(aside, file).catch(() => {})
            await rm(aside, { force: true }) // no second copy of a key left lying about
          }
        }
      }
      const temp = `${file}.${randomUUID()}.tmp`
      try {
        await writeFile(temp, toBase64(newSigningKey()), { mode: 0o600 })
        await link(temp, file).catch(async (error: NodeJS.ErrnoException) => {
          if (error.code === 'EEXIST') return // another creator won: read theirs
          // A file system without hard links: create-if-absent by an exclusive open (a reader may see it half-written).
          await writeFile(file, await readFile(temp), { mode: 0o600, flag: 'wx' }).catch(
            (again: NodeJS.ErrnoException) => {
              if (again.code !== 'EEXIST') throw again
            },
          )
        })
      } finally {
        await rm(temp, { force: true })
      }
      const key = await read()
      if (!key) throw new Error(`cannot read back the thumbnail-link signing key at ${file}`)
      return key
    },
  }
}
