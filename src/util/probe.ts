/**
 * Readiness: can we still write where accepted events go?
 * @module
 */
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/** Writes and removes a small file in `dir`; returns the problem, or undefined when it worked. */
export async function probeWritable(dir: string): Promise<string | undefined> {
  const path = join(dir, `.ready-probe-${crypto.randomUUID().slice(0, 8)}`)
  try {
    await writeFile(path, 'ok')
    await rm(path, { force: true })
    return undefined
  } catch (error) {
    return (error as Error).message
  }
}
