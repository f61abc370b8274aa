/**
 * A SIGTERM that comes as soon as the gateway says it listens (a supervisor, a test, a deploy script reading the
 * log) drains it and exits 0 on every runtime. The signal is sent by the process itself, from inside the
 * console.log that prints the "listening" line (test/support/signal-on-listening.mjs), so it cannot come later
 * by chance. The config leaves the page on with no token: the first sign-in link is printed inside the listen
 * callback and flushes the log there, which is what once wrote the line before Deno and Bun had their handlers.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '../support/files.ts'
import { SECRET } from '../support/hooks.ts'
import { missingRuntime, onOutputLines, ROOT, RUNTIMES, serverCommand, type Runtime } from '../support/runtimes.ts'
import { skipWhen } from '../support/skip.ts'

const PRELOAD = join(ROOT, 'test/support/signal-on-listening.mjs')

/** The runtime's gateway command with the preload added (and, on Deno, the right to signal itself). */
function preloaded(runtime: Runtime, config: string): string[] {
  const [command, ...args] = serverCommand(runtime, config)
  if (runtime === 'deno') return [command!, args[0]!, `--preload=${PRELOAD}`, '--allow-run', ...args.slice(1)]
  if (runtime === 'bun') return [command!, `--preload=${PRELOAD}`, ...args]
  return [command!, `--import=${PRELOAD}`, ...args]
}

describe.each(RUNTIMES)('a SIGTERM right on "listening" (%s)', (runtime) => {
  const dir = tempDir(`hookcast-early-signal-${runtime}-`)
  afterAll(() => dir.remove())
  it('drains the gateway and exits 0', { ...skipWhen(missingRuntime(runtime)), timeout: 60_000 }, async () => {
    const config = join(dir.path, 'config.yaml')
    writeFileSync(
      config,
      `sources:\n  millicast: { path: /hooks/millicast, secrets: ["${SECRET}"] }\n` +
        `sinks:\n  disk: { type: fs, dir: "${join(dir.path, 'data')}" }\nroutes:\n  - to: [disk]\n` +
        `spool: { dir: "${join(dir.path, 'spool')}" }\n`,
    )
    const [command, ...args] = preloaded(runtime, config)
    const child = spawn(command!, args, {
      cwd: ROOT,
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const lines: string[] = []
    onOutputLines(child, (line) => lines.push(line))
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.once('exit', (...exit) => resolve(exit)),
    )
    const output = lines.join('\n')
    expect({ code, signal }, output).toEqual({ code: 0, signal: null })
    expect(output).toContain('one-time sign-in links printed on stdout') // the page was on: its link flushed the log
    expect(output).toContain('"msg":"stopped"')
  })
})
