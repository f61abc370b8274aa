/** The sink contract against the local disk. */
import { afterAll, describe, expect, it } from 'vitest'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createFsSink } from '../../src/sinks/fs.ts'
import { fsSinkConfig } from '../../src/config/fs-sink.ts'
import { listFiles, tempDir } from '../support/files.ts'
import { parseThumbnail } from '../../src/events/parse.ts'
import { jpeg, signedThumbnail } from '../support/hooks.ts'
import { sinkContract } from './contract.ts'
import { DEFAULT_KEY, longestKey } from '../../src/template/key.ts'

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
  list: async (prefix) =>
    listFiles(root)
      .map((path) => path.split('\\').join('/'))
      .filter((key) => key.startsWith(prefix)),
  keepsMetadata: false,
  makesUrls: false,
  failures: [
    {
      what: 'dir is a file (an operator can fix it: retried)',
      make: () => createFsSink('disk', fsSinkConfig.parse({ type: 'fs', dir: join(notADirectory, 'data') })),
      permanent: false,
      message: /cannot write .*a-file\/data/,
    },
    {
      what: 'a path longer than the system takes (it never will: dead letters at once)',
      make: () =>
        createFsSink(
          'disk',
          fsSinkConfig.parse({ type: 'fs', dir: join(dir.path, ...Array.from({ length: 20 }, () => 'd'.repeat(250))) }),
        ),
      permanent: true,
      message:
        /^cannot write .*: the file system refuses the name \(ENAMETOOLONG\), and always will: shorten sinks\.disk\.key or sinks\.disk\.dir/,
    },
  ],
})

describe('fs sink', () => {
  it('never lets a key land in its temp folder, and a start never fails on what is in there', async () => {
    const base = join(dir.path, 'sweep')
    // What a replayed thumbnail with stream ".hookcast-tmp/x" made with the key {streamId}/latest.{ext} before.
    mkdirSync(join(base, '.hookcast-tmp', 'x'), { recursive: true })
    writeFileSync(join(base, '.hookcast-tmp', 'x', 'latest.jpg'), 'old')
    writeFileSync(join(base, '.hookcast-tmp', '999999999-0badc0de-1.tmp'), 'left by a killed process')
    const failures: unknown[] = []
    const onRejection = (reason: unknown) => failures.push(reason)
    process.on('unhandledRejection', onRejection)
    try {
      const sink = createFsSink('disk', fsSinkConfig.parse({ type: 'fs', dir: base, key: '{streamId}/latest.{ext}' }))
      const hook = await signedThumbnail({ body: jpeg('replayed'), streamId: '.hookcast-tmp/x' })
      const event = await parseThumbnail(hook.body, new Headers(hook.headers), { source: 'millicast', receivedAt: 1 })
      await sink.deliver(event)
      expect(sink.keyFor(event)).toBe('%2Ehookcast-tmp/x/latest.jpg')
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(failures).toEqual([])
      expect(existsSync(join(base, '.hookcast-tmp', '999999999-0badc0de-1.tmp'))).toBe(false) // a dead writer's temp is swept
      expect(readFileSync(join(base, '.hookcast-tmp', 'x', 'latest.jpg'), 'utf8')).toBe('old') // what is not ours is left alone
    } finally {
      process.off('unhandledRejection', onRejection)
    }
  })

  it('check writes the longest key its template can give, and says when the file system refuses it (issue 20, item 3)', async () => {
    expect(
      await createFsSink('disk', fsSinkConfig.parse({ type: 'fs', dir: join(dir.path, 'checked') })).check!(),
    ).toBeUndefined()
    // A dir the system takes, under which the longest keys of the default template make paths past its 4,095 bytes.
    const deep = join(dir.path, ...Array.from({ length: 13 }, () => 'd'.repeat(250)))
    const problem = await createFsSink('disk', fsSinkConfig.parse({ type: 'fs', dir: deep })).check!()
    const key = longestKey(DEFAULT_KEY)
    expect(problem).toBe(
      `keys of "${DEFAULT_KEY}" can be ${key.length} bytes with names of ${Math.max(...key.split('/').map((name) => name.length))}, and ${deep} refuses them (ENAMETOOLONG): use a dir (file system) that takes them, or a shorter key`,
    )
    expect(key.length).toBeGreaterThan(1000)
    expect(listFiles(deep)).toEqual([]) // the probe is gone
  })

  it('writes into a folder removed since its last write there (it remembers folders, and forgets one found gone)', async () => {
    const base = join(dir.path, 'removed')
    const sink = createFsSink('disk', fsSinkConfig.parse({ type: 'fs', dir: base, key: '{streamId}/{id}.{ext}' }))
    const deliver = async (name: string) => {
      const hook = await signedThumbnail({ body: jpeg(name), streamId: 'acct/cam' })
      const event = await parseThumbnail(hook.body, new Headers(hook.headers), { source: 'millicast', receivedAt: 1 })
      await sink.deliver(event)
      return join(base, sink.keyFor(event))
    }
    expect(readFileSync(await deliver('first'))).toEqual(Buffer.from(jpeg('first')))
    // An operator (or retention) empties the sink: the stream's folder and the temp folder are gone.
    rmSync(base, { recursive: true })
    expect(readFileSync(await deliver('second'))).toEqual(Buffer.from(jpeg('second')))
    rmSync(join(base, 'acct'), { recursive: true })
    expect(readFileSync(await deliver('third'))).toEqual(Buffer.from(jpeg('third')))
  })
})
