/**
 * Spawns the real gateway on Node, Deno or Bun, on a free port chosen by the OS, and stops it after.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { mkdirSync, writeFileSync } from 'node:fs'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const BIN = `${ROOT}node_modules/.bin`

export type Runtime = 'node' | 'deno' | 'bun' | 'lambda'
export const RUNTIMES: Runtime[] = ['node', 'deno', 'bun']

/** How each runtime's gateway is started (cwd: the repository). */
export const COMMANDS: Record<Runtime, string[]> = {
  node: [process.execPath, '--import', 'tsx', 'adapters/node.ts'],
  deno: [`${BIN}/deno`, 'run', '-A', 'adapters/deno.ts'],
  bun: [`${BIN}/bun`, 'run', 'adapters/bun.ts'],
  // The Lambda handler behind a local stand-in for a Function URL (real POSTs in, Function URL events out).
  lambda: [process.execPath, '--import', 'tsx', 'test/lambda/front.ts'],
}

export interface RunningServer {
  url: string
  runtime: Runtime
  process: ChildProcess
  /** Every line the server printed so far. */
  logs: string[]
  /** SIGTERM, and wait for the exit. */
  stop(): Promise<number | null>
  /** SIGKILL: no shutdown code runs. */
  kill(): Promise<void>
}

export async function startServer(runtime: Runtime, configPath: string, env: Record<string, string> = {}): Promise<RunningServer> {
  const [command, ...args] = COMMANDS[runtime]
  const child = spawn(command!, [...args, '--config', configPath], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const logs: string[] = []
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    // Kept for looking into a failed run (test-artifacts/ is not committed).
    mkdirSync(`${ROOT}test-artifacts/server-logs`, { recursive: true })
    writeFileSync(`${ROOT}test-artifacts/server-logs/${runtime}-${child.pid}.log`, logs.join('\n') + '\n')
    resolve(code)
  }))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${runtime} did not start in 30 s:\n${logs.join('\n')}`)), 30_000)
    const onLine = (line: string) => {
      logs.push(line)
      const match = /"msg":"listening","url":"([^"]+)"/.exec(line)
      if (match) {
        clearTimeout(timer)
        resolve(match[1]!)
      }
    }
    onOutputLines(child, onLine)
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`${runtime} exited with ${code} before listening:\n${logs.join('\n')}`))
    })
  })
  return {
    url,
    runtime,
    process: child,
    logs,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      return exited
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
    },
  }
}

/** Calls `onLine` with each whole line the child prints, on stdout and stderr. */
export function onOutputLines(child: ChildProcess, onLine: (line: string) => void): void {
  for (const stream of [child.stdout!, child.stderr!]) {
    let buffer = ''
    stream.setEncoding('utf8')
    stream.on('data', (chunk: string) => {
      buffer += chunk
      const lines = buffer.split('\n')
      buffer = lines.pop()!
      lines.forEach(onLine)
    })
  }
}
