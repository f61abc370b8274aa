/**
 * What production runs (issue 15): Node runs the JavaScript `npm run build` emits into dist/node, never TypeScript
 * through a loader; Deno runs with the permissions it needs, never -A. The end-to-end suites start every runtime with
 * these same commands (test/support/runtimes.ts), so they prove the permissions are enough.
 */
import { describe, expect, it } from 'vitest'
import { existsSync, readFileSync } from 'node:fs'
import { ROOT } from './support/runtimes.ts'

const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as {
  scripts: Record<string, string>
  dependencies: Record<string, string>
  files: string[]
}

describe('start commands', () => {
  it('npm start and the hookcast command run the built JavaScript, with no TypeScript loader', () => {
    expect(pkg.scripts.start).toBe('node dist/node/adapters/node.js')
    expect(existsSync(`${ROOT}dist/node/adapters/node.js`)).toBe(true) // the global setup built it
    expect(readFileSync(`${ROOT}bin/hookcast.js`, 'utf8')).not.toMatch(/tsx|\.ts['"]/)
    expect(pkg.dependencies).not.toHaveProperty('tsx')
    expect(pkg.files).toContain('dist/node')
  })

  it("Deno gets net, env, read, write to ./data and ./spool, the OS release and sharp's native addon only", () => {
    const flags = pkg.scripts['start:deno']!.split(/\s+/).filter((word) => word.startsWith('-'))
    expect(flags.sort()).toEqual([
      '--allow-env',
      '--allow-ffi=./node_modules/@img',
      '--allow-net',
      '--allow-read',
      '--allow-sys=osRelease',
      '--allow-write=./data,./spool',
      '--no-prompt',
    ])
  })
})
