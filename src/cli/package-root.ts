/**
 * The hookcast package this module belongs to: src/cli/ when run as TypeScript, dist/node/src/cli/ when built.
 * @module
 */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

interface PackageRoot {
  dir: string
  version: string
}

let found: PackageRoot | undefined

export function packageRoot(): PackageRoot {
  if (found) return found
  for (const up of ['../../', '../../../../']) {
    const dir = new URL(up, import.meta.url)
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'hookcast')
        return (found = { dir: resolve(fileURLToPath(dir)), version: pkg.version ?? 'unknown' })
    } catch {
      // not at this depth
    }
  }
  throw new Error('cannot find the package.json of hookcast')
}
