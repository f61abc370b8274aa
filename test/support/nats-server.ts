/**
 * A real nats-server for tests: Debian's package (`/usr/sbin/nats-server`, installed by .ci/run), on 127.0.0.1 on a
 * free port, JetStream on with its store under a temp dir. A config file carries what has no flag (`max_payload`).
 *
 * `stop` ends it as an operator would (SIGTERM), `kill` as a crash does (SIGKILL); `start` brings it back on the same
 * port with the same store, so clients reconnect to it and find their streams.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from './files.ts'
import { freePort } from './ports.ts'
import { onOutputLines } from './runtimes.ts'

const BINARY = ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((path) => existsSync(path)) ?? 'nats-server'

/** The version of the nats-server binary the tests run (`2.9.10`), as `nats-server --version` prints it. */
export function natsServerVersion(): string {
  const printed = execFileSync(BINARY, ['--version'], { encoding: 'utf8' })
  const version = /v?(\d+\.\d+\.\d+\S*)/.exec(printed)?.[1]
  if (!version) throw new Error(`cannot read the version of ${BINARY} from "${printed.trim()}"`)
  return version
}

export interface NatsServerOptions {
  /** The largest message the server takes, bytes (its default is 1 MiB). */
  maxPayload?: number
  /** Clients must present this token. */
  token?: string
  /** false: a server without JetStream (default on). */
  jetstream?: boolean
  /** More config lines (auth, TLS), as nats-server's config file takes them. */
  extraConfig?: string
}

export interface NatsTestServer {
  /** `nats://127.0.0.1:<port>` */
  url: string
  port: number
  /** Output of the current process (and of the ones before it), for failure messages. */
  logs: string[]
  /** The config file: a test may rewrite it before `start` (or a reload). */
  configPath: string
  running(): boolean
  /** Starts it again after `stop` or `kill` (same port, same store). */
  start(): Promise<void>
  /** SIGTERM: JetStream flushes and the server exits. */
  stop(): Promise<void>
  /** SIGKILL. */
  kill(): Promise<void>
  /** Stops it and removes its store. */
  remove(): Promise<void>
}

export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsTestServer> {
  const dir = tempDir('hookcast-nats-')
  const port = await freePort()
  const config = join(dir.path, 'nats.conf')
  writeFileSync(
    config,
    [
      'host: "127.0.0.1"',
      `port: ${port}`,
      ...(options.maxPayload ? [`max_payload: ${options.maxPayload}`] : []),
      ...(options.token ? [`authorization { token: ${JSON.stringify(options.token)} }`] : []),
      ...(options.jetstream === false ? [] : [`jetstream { store_dir: ${JSON.stringify(join(dir.path, 'store'))} }`]),
      ...(options.extraConfig ? [options.extraConfig] : []),
      '',
    ].join('\n'),
  )
  const logs: string[] = []
  let child: ChildProcess | undefined
  let exited: Promise<void> = Promise.resolve()

  const start = () =>
    new Promise<void>((resolve, reject) => {
      const proc = spawn(BINARY, ['-c', config], { stdio: ['ignore', 'pipe', 'pipe'] })
      child = proc
      exited = new Promise((done) => proc.once('exit', () => done()))
      const timer = setTimeout(() => fail(new Error(`nats-server did not start in 15 s:\n${logs.join('\n')}`)), 15_000)
      onOutputLines(proc, (line) => {
        logs.push(line)
        if (line.includes('Server is ready')) {
          clearTimeout(timer)
          resolve()
        }
      })
      const fail = (error: Error) => {
        clearTimeout(timer)
        if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
        reject(error)
      }
      proc.once('error', (error) =>
        fail(new Error(`cannot run ${BINARY} (apt-get install nats-server): ${error.message}`)),
      )
      proc.once('exit', (code, signal) =>
        fail(new Error(`nats-server exited (${code ?? signal}) before it was ready:\n${logs.join('\n')}`)),
      )
    })

  const end = async (signal: NodeJS.Signals) => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill(signal)
    await exited
    child = undefined
  }

  await start()
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    logs,
    configPath: config,
    running: () => child !== undefined && child.exitCode === null && child.signalCode === null,
    start,
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
    async remove() {
      await end('SIGKILL')
      dir.remove()
    },
  }
}
