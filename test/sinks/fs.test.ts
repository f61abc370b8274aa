/** The sink contract against the local disk. */
import { afterAll } from 'vitest'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createFsSink, fsSinkConfig } from '../../src/sinks/fs.ts'
import { listFiles, tempDir } from '../support/files.ts'
import { sinkContract } from './contract.ts'

const dir = tempDir('hookcast-fs-sink-')
afterAll(() => dir.remove())
const root = join(dir.path, 'data')
const notADirectory = join(dir.path, 'a-file')
writeFileSync(notADirectory, 'in the way')

sinkContract({
  name: 'fs',
  make: (config, options) => createFsSink('disk', fsSinkConfig.parse({ type: 'fs', dir: root, ...config }), options),
  async readBack(key) {
    try {
      return { body: new Uint8Array(readFileSync(join(root, key))) }
    } catch {
      return undefined
    }
  },
  list: async (prefix) => listFiles(root).map((path) => path.split('\\').join('/')).filter((key) => key.startsWith(prefix)),
  keepsMetadata: false,
  makesUrls: false,
  failures: [{
    what: 'dir is a file (an operator can fix it: retried)',
    make: () => createFsSink('disk', fsSinkConfig.parse({ type: 'fs', dir: join(notADirectory, 'data') })),
    permanent: false,
    message: /cannot write .*a-file\/data/,
  }],
})
