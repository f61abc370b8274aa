/**
 * A nats-server for the benchmark's `nats3` row: Debian's package (`/usr/sbin/nats-server`), on 127.0.0.1 on a port
 * it picks itself (`port: -1`, read back from its log), JetStream on with its store under `dir`, and `max_payload`
 * from a config file (it has no flag). The process is registered with lib.ts's cleanup like every server here.
 * @module
 */
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { trackChild } from './lib.ts'

export const NATS_BINARY =
  ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((path) => existsSync(path)) ?? 'nats-server'

export interface NatsServer {
  /** `nats://127.0.0.1:<port>` */
  url: string
  pid: number
  stop(): Promise<void>
}

/** nats-server's version (`2.9.10`), or `?` when it cannot be run. */
export function natsVersion(): string {
  try {
    return /v?(\d+\.\d+\.\d+\S*)/.exec(execFileSync(NATS_BINARY, ['--version'], { encoding: 'utf8' }))?.[1] ?? '?'
  } catch {
    return '?'
  }
}

export function startNats(dir: string, maxPayload: number): Promise<NatsServer> {
  mkdirSync(dir, { recursive: true })
  const config = join(dir, 'nats.conf')
  writeFileSync(
    config,
    [
      'host: "127.0.0.1"',
      'port: -1',
      `max_payload: ${maxPayload}`,
      `jetstream { store_dir: ${JSON.stringify(join(dir, 'store'))} }`,
      '',
    ].join('\n'),
  )
  const child = spawn(NATS_BINARY, ['-c', config], { stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = trackChild(child)
  const logs: string[] = []
  return new Promise<NatsServer>((resolve, reject) => {
    let url: string | undefined
    const fail = (error: Error) => {
      clearTimeout(timer)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      reject(error)
    }
    const timer = setTimeout(() => fail(new Error(`nats-server did not start in 15 s:\n${logs.join('\n')}`)), 15_000)
    let pending = ''
    const onData = (chunk: Buffer) => {
      pending += chunk.toString()
      const lines = pending.split('\n')
      pending = lines.pop()!
      for (const line of lines) {
        logs.push(line)
        if (logs.length > 50) logs.shift()
        const listening = /Listening for client connections on ([\d.]+):(\d+)/.exec(line)
        if (listening) url = `nats://${listening[1]}:${listening[2]}`
        if (line.includes('Server is ready') && url) {
          clearTimeout(timer)
          resolve({
            url,
            pid: child.pid!,
            async stop() {
              if (child.exitCode !== null || child.signalCode !== null) return
              child.kill('SIGTERM')
              const kill = setTimeout(() => child.kill('SIGKILL'), 15_000)
              await exited
              clearTimeout(kill)
            },
          })
        }
      }
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    child.once('error', (error) =>
      fail(new Error(`cannot run ${NATS_BINARY} (apt-get install nats-server): ${error.message}`)),
    )
    void exited.then(() =>
      fail(
        new Error(
          `nats-server exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${logs.join('\n')}`,
        ),
      ),
    )
  })
}
