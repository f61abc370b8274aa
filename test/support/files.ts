/** Temporary directories and file listings for tests. */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { tmpdir } from 'node:os'

export function tempDir(prefix = 'hookcast-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

/** Where the fs sink writes a file before renaming it into place (src/sinks/fs.ts): writes under way, not deliveries. */
const FS_SINK_TEMPS = '.hookcast-tmp'

/**
 * Every file under `root`, as paths relative to it, sorted. The fs sink's temp folder below `root` is left out: a
 * count of files taken while the sink writes would otherwise include a write not finished yet.
 */
export function listFiles(root: string): string[] {
  const out: string[] = []
  const walk = (dir: string) => {
    let entries: string[]
    try {
      entries = readdirSync(dir)
    } catch {
      return
    }
    for (const entry of entries) {
      const path = join(dir, entry)
      if (statSync(path).isDirectory()) {
        if (entry !== FS_SINK_TEMPS) walk(path)
      } else out.push(relative(root, path))
    }
  }
  walk(root)
  return out.sort()
}
