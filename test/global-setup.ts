/**
 * Builds dist/node before the tests when its sources changed (bin/build.mjs --if-changed): the Node gateways the
 * tests spawn and the `hookcast` command run that JavaScript, as production does. Not type-checked here, to stay
 * quick (`npm run typecheck` does that); the build takes a few seconds, and nothing when nothing changed.
 */
import { execFileSync } from 'node:child_process'
import { ROOT } from './support/runtimes.ts'

export default function buildOnce(): void {
  execFileSync(process.execPath, ['bin/build.mjs', '--no-check', '--if-changed'], { cwd: ROOT, stdio: 'inherit' })
}
