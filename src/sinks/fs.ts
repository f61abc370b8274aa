/**
 * The local disk sink: each event is a file under `dir`, named by the key template.
 *
 * Writes are atomic (a temp file in `dir/.hookcast-tmp`, then a rename), so a reader never sees half a file and a
 * redelivery replaces the file whole. Temp files left by a killed process are swept at the next start.
 * @module
 */
import { writeFile } from 'node:fs'
import { mkdir, readdir, rename, rm, rmdir, stat } from 'node:fs/promises'
import { dirname, join, relative, resolve, sep } from 'node:path'
import type { HookEvent } from '../events/types.ts'
import { longestKey, renderKey } from '../template/key.ts'
import { byteLength } from '../template/shorten.ts'
import { DeliveryError } from '../destinations/types.ts'
import { silentLogger, type Logger } from '../log.ts'
import { createRetention, type RetentionStore, type StoredObject } from './retention.ts'
import type { Sink, SinkOptions } from './types.ts'
import { isAlive, ownPid } from '../util/pid.ts'
import { probeWritable } from '../util/probe.ts'
import type { FsSinkConfig } from '../config/fs-sink.ts'
import { fsDeliveryError } from './fs-errors.ts'

/** Where writes are staged before their rename: same file system, out of the way of anyone reading `dir`. */
const TEMP_DIR = '.hookcast-tmp'
/** Folders remembered as existing (a day-per-folder key makes a few a day; this bounds a key with an id per folder). */
const MAX_KNOWN_FOLDERS = 10_000

export function createFsSink(name: string, config: FsSinkConfig, options: SinkOptions = {}): Sink {
  const root = resolve(config.dir)
  const temps = join(root, TEMP_DIR)
  // Named by process id (to sweep a dead process's leftovers) and write, so concurrent writers never share one.
  const prefix = `${ownPid}-${crypto.randomUUID().slice(0, 8)}-`
  let counter = 0
  // Folders this sink made or found, so a write costs no mkdir calls once its folder exists. A folder removed since
  // (retention, an operator) makes the rename fail with ENOENT: the folder is forgotten and the write tried again.
  const folders = new Set<string>()
  const log = options.log ?? silentLogger
  const swept = sweepTemps(temps, log)
  const retention =
    config.retention &&
    createRetention(config.retention, config.key, fsRetentionStore(root), {
      sink: name,
      log,
      now: options.now ?? Date.now,
    })

  /** Writes a temp file, then renames it into place: the rename is the commit, and an aborted write never makes it. */
  async function write(path: string, body: Uint8Array, signal: AbortSignal | undefined): Promise<void> {
    await swept
    const temp = join(temps, `${prefix}${++counter}.tmp`)
    try {
      await ensureFolder(temps)
      await ensureFolder(dirname(path))
      await writeFileOnce(temp, body, signal)
      signal?.throwIfAborted()
      await rename(temp, path)
    } catch (error) {
      if (isMissing(error)) {
        folders.delete(temps)
        folders.delete(dirname(path))
      }
      await rm(temp, { force: true }).catch(() => {})
      throw error
    }
  }

  async function ensureFolder(folder: string): Promise<void> {
    if (folders.has(folder)) return
    await mkdir(folder, { recursive: true })
    if (folders.size >= MAX_KNOWN_FOLDERS) folders.clear()
    folders.add(folder)
  }

  return {
    name,
    kind: 'sink',
    concurrency: 64,
    keyFor: (event) => renderKey(config.key, event),
    async check() {
      const problem = await mkdir(root, { recursive: true }).then(
        () => probeWritable(root),
        (error: Error) => error.message,
      )
      return problem ? `cannot write to ${root}: ${problem}` : probeLongestKey(root, config.key)
    },
    async deliver(event: HookEvent, signal?: AbortSignal) {
      const key = renderKey(config.key, event)
      const path = resolve(root, key)
      if (!path.startsWith(root + sep)) throw new DeliveryError(`key escapes ${root}`, { permanent: true })
      if (path === temps || path.startsWith(temps + sep))
        throw new DeliveryError(`key ${key} is inside hookcast's temp folder ${TEMP_DIR}`, { permanent: true })
      try {
        // Retention may remove a folder it emptied between our mkdir and write: once more finds it recreated.
        await write(path, event.body, signal).catch((error) =>
          isMissing(error) ? write(path, event.body, signal) : Promise.reject(error),
        )
      } catch (error) {
        if (signal?.aborted) throw signal.reason
        throw fsDeliveryError(error, path, name)
      }
      if (!signal?.aborted) await retention?.afterPut(event, key)
    },
  }
}

/**
 * Writes (and removes) a file at the longest path the key template can give under `root`, its first name replaced
 * by a `.hookcast-probe-` name of the same length: a file system that takes shorter names (eCryptfs: 143 bytes) or
 * paths (a deep `dir`) is found by `hookcast check` rather than by a dead letter.
 */
async function probeLongestKey(root: string, template: string): Promise<string | undefined> {
  const key = longestKey(template)
  const [first = '', ...rest] = key.split('/')
  const probe = `.hookcast-probe-${crypto.randomUUID()}`.padEnd(first.length, 'x')
  const path = join(root, probe, ...rest)
  try {
    await mkdir(dirname(path), { recursive: true })
    await writeFileOnce(path, new Uint8Array(), undefined)
    return undefined
  } catch (error) {
    const code = (error as { code?: string }).code ?? (error as Error).message
    const longest = Math.max(...key.split('/').map(byteLength))
    return (
      `keys of "${template}" can be ${byteLength(key)} bytes with names of ${longest}, and ${root} refuses them ` +
      `(${code}): use a dir (file system) that takes them, or a shorter key`
    )
  } finally {
    await rm(join(root, probe), { recursive: true, force: true }).catch(() => {})
  }
}

/**
 * Removes temp files of processes that are gone (killed mid-write). Only files named as this sink names them are
 * touched, and a failure is a warning: a sweep must never stop the gateway from starting.
 */
async function sweepTemps(temps: string, log: Logger): Promise<void> {
  try {
    const entries = await readdir(temps, { withFileTypes: true }).catch(() => [])
    const leftovers = entries.filter(
      (entry) => entry.isFile() && TEMP_NAME.test(entry.name) && !isAlive(Number(entry.name.split('-')[0])),
    )
    await Promise.all(leftovers.map((entry) => rm(join(temps, entry.name), { force: true })))
  } catch (error) {
    log.warn('cannot sweep leftover temp files', { dir: temps, error: String(error) })
  }
}

/**
 * fs.writeFile through its callback: on Node the promise API wraps each of its open, write and close in a
 * FileHandle and a promise of its own (100 KB to tmpfs: 31-35 µs of event loop per write against 16-19 µs, and
 * 89-95 µs of CPU against 70-80 µs); Deno and Bun take either.
 */
function writeFileOnce(path: string, body: Uint8Array, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) =>
    writeFile(path, body, signal ? { signal } : {}, (error) => (error ? reject(error) : resolve())),
  )
}

/** `<pid>-<8 hex>-<counter>.tmp`, as `write` names its temp files. */
const TEMP_NAME = /^\d+-[0-9a-f]{8}-\d+\.tmp$/

function isMissing(error: unknown): boolean {
  return (error as { code?: string }).code === 'ENOENT'
}

function fsRetentionStore(root: string): RetentionStore {
  return {
    async list(prefix) {
      const out: StoredObject[] = []
      const walk = async (dir: string): Promise<void> => {
        const entries = await readdir(dir, { withFileTypes: true }).catch((error) =>
          isMissing(error) ? [] : Promise.reject(error),
        )
        for (const entry of entries) {
          const path = join(dir, entry.name)
          if (entry.isDirectory()) {
            if (entry.name !== TEMP_DIR) await walk(path)
          } else if (entry.isFile()) {
            const info = await stat(path).catch((error) => (isMissing(error) ? undefined : Promise.reject(error)))
            if (info) out.push({ key: relative(root, path).split(sep).join('/'), modified: info.mtimeMs })
          }
        }
      }
      await walk(resolve(root, prefix))
      return out
    },
    async remove(keys, prefix) {
      const top = resolve(root, prefix)
      const folders = new Set<string>()
      for (const key of keys) {
        const path = resolve(root, key)
        await rm(path, { force: true })
        for (let dir = dirname(path); dir.startsWith(top + sep); dir = dirname(dir)) folders.add(dir)
      }
      // Deepest first, so a day folder emptied by the sweep goes too; a folder still in use is not empty and stays.
      for (const dir of [...folders].sort((a, b) => b.length - a.length)) await rmdir(dir).catch(() => {})
    },
  }
}
