/**
 * The local disk sink: each event is a file under `dir`, named by the key template.
 *
 * Writes are atomic (temp file in the same directory, then rename), so a reader never sees half a file and a
 * redelivery replaces the file whole.
 * @module
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import { dirname, resolve, sep } from 'node:path'
import { z } from 'zod'
import type { HookEvent } from '../events/types.ts'
import { DEFAULT_KEY, renderKey } from '../template/key.ts'
import { keyTemplate } from './key-schema.ts'
import { DeliveryError } from '../destinations/types.ts'
import type { Sink } from './types.ts'

export const fsSinkConfig = z.object({
  type: z.literal('fs'),
  /** Directory the files go under; created when missing. Relative paths are relative to the working directory. */
  dir: z.string().min(1),
  key: keyTemplate.default(DEFAULT_KEY),
}).strict()

export type FsSinkConfig = z.infer<typeof fsSinkConfig>

export function createFsSink(name: string, config: FsSinkConfig): Sink {
  const root = resolve(config.dir)
  // Unique per process and write, so concurrent writers never share a temp file.
  const instance = crypto.randomUUID().slice(0, 8)
  let counter = 0

  return {
    name,
    kind: 'sink',
    keyFor: (event) => renderKey(config.key, event),
    async deliver(event: HookEvent) {
      const path = resolve(root, renderKey(config.key, event))
      if (!path.startsWith(root + sep)) throw new DeliveryError(`key escapes ${root}`, { permanent: true })
      const temp = `${path}.${instance}-${++counter}.tmp`
      try {
        await mkdir(dirname(path), { recursive: true })
        await writeFile(temp, event.body)
        await rename(temp, path)
      } catch (error) {
        await rm(temp, { force: true }).catch(() => {})
        // Disk full, permissions, a read-only mount: all can be fixed by an operator, so they are retried.
        throw new DeliveryError(`cannot write ${path}: ${(error as Error).message}`, { cause: error })
      }
    },
  }
}
