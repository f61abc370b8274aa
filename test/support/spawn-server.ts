/**
 * Like `startServer` (runtimes.ts), but hands back the child process at once, before it listens: for killing a
 * gateway in the middle of its start (lock, spool recovery, re-emitted stream transitions) as a crash can.
 * Logs are kept the same way, under test-artifacts/server-logs.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { onOutputLines, ROOT, serverCommand, type Runtime, type RunningServer } from './runtimes.ts'

export interface SpawnedServer {
  process: ChildProcess
  logs: string[]
  /** Resolves once it listens; rejects when it exits first (or does not listen within 30 s). */
  ready: Promise<RunningServer>
  /** Resolves with the exit code (null when killed by a signal) once the process is gone and reaped. */
  exited: Promise<number | null>
  /** SIGKILL now; resolves once it is gone. */
  kill(): Promise<void>
}

export function spawnServer(runtime: Runtime, configPath: string, env: Record<string, string> = {}): SpawnedServer {
  const [command, ...args] = serverCommand(runtime, configPath)
  const child = spawn(command!, args, {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const logs: string[] = []
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      mkdirSync(`${ROOT}test-artifacts/server-logs`, { recursive: true })
      writeFileSync(`${ROOT}test-artifacts/server-logs/${runtime}-${child.pid}.log`, logs.join('\n') + '\n')
      resolve(code)
    }),
  )
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  }
  const ready = new Promise<RunningServer>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${runtime} did not start in 30 s:\n${logs.join('\n')}`)), 30_000)
    const onLine = (line: string) => {
      logs.push(line)
      const match = /"msg":"listening","url":"([^"]+)"/.exec(line)
      if (match) {
        clearTimeout(timer)
        resolve({
          url: match[1]!,
          runtime,
          process: child,
          logs,
          async stop() {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
            return exited
          },
          kill,
        })
      }
    }
    onOutputLines(child, onLine)
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`${runtime} exited with ${code ?? child.signalCode} before listening:\n${logs.join('\n')}`))
    })
  })
  ready.catch(() => {}) // a start killed on purpose is not an unhandled rejection
  return { process: child, logs, ready, exited, kill }
}
