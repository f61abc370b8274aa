/**
 * A real nats-server with JetStream for the state stores' tests: Debian's `/usr/sbin/nats-server` (or `NATS_SERVER`)
 * on 127.0.0.1 on a free port, its store in a temp dir, settings in a config file (max_payload is a config-file
 * setting only). Connections are made with `@nats-io/transport-node` and closed by `stop()`.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { tempDir } from './files.ts'
import { freePort } from './ports.ts'
import { eventually } from './wait.ts'

export const NATS_SERVER_BIN = process.env.NATS_SERVER ?? '/usr/sbin/nats-server'

export interface NatsKvTestServer {
  url: string
  /** A new connection (another instance, or the same one after a restart). */
  connect(): Promise<NatsConnection>
  stop(): Promise<void>
}

export async function startNatsKvServer(options: { maxPayload?: number } = {}): Promise<NatsKvTestServer> {
  const dir = tempDir('hookcast-nats-kv-')
  const port = await freePort()
  const config = join(dir.path, 'nats.conf')
  writeFileSync(config, [
    'host: 127.0.0.1',
    `port: ${port}`,
    `max_payload: ${options.maxPayload ?? 1024 * 1024}`,
    `jetstream { store_dir: ${JSON.stringify(join(dir.path, 'js'))} }`,
    '',
  ].join('\n'))
  const child: ChildProcess = spawn(NATS_SERVER_BIN, ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr!.on('data', (chunk) => { stderr = (stderr + String(chunk)).slice(-4_000) })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const url = `nats://127.0.0.1:${port}`
  const connections: NatsConnection[] = []
  const open = async () => {
    const nc = await connect({ servers: url, maxReconnectAttempts: 0 })
    connections.push(nc)
    return nc
  }
  try {
    await eventually(async () => {
      if (child.exitCode !== null) throw new Error(`nats-server exited: ${stderr}`)
      await (await open()).close()
      return true
    }, 10_000, 50)
  } catch (error) {
    child.kill('SIGKILL')
    dir.remove()
    throw error
  }
  return {
    url,
    connect: open,
    async stop() {
      await Promise.all(connections.map((nc) => nc.close().catch(() => {})))
      child.kill('SIGTERM')
      await exited
      dir.remove()
    },
  }
}
