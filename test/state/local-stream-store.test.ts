/**
 * The stream store contract against the local directory store, reopened from its files; its bounds are in
 * test/streams/bounds.test.ts.
 */
import { afterAll } from 'vitest'
import { openLocalStreamStore } from '../../src/state/local-stream-store.ts'
import { silentLogger } from '../../src/log.ts'
import { tempDir } from '../support/files.ts'
import { streamStoreContract } from './stream-store.contract.ts'

const dirs: Array<ReturnType<typeof tempDir>> = []
afterAll(() => { for (const dir of dirs) dir.remove() })
const open = (dir: string) => openLocalStreamStore({ dir, log: silentLogger })

streamStoreContract({
  name: 'local',
  async open() {
    dirs.push(tempDir('hookcast-stream-store-'))
    return open(dirs.at(-1)!.path)
  },
  reopen: () => open(dirs.at(-1)!.path),
})
