/**
 * A connection to NATS as hookcast uses it: authenticated (token, user and password, a creds file, TLS), and
 * reconnecting by itself forever, so an instance rides out a restarted or unreachable server (its hooks get 503 in
 * the meantime). `inspectNats` is what `hookcast check` asks: can we connect, is JetStream on, how large a message
 * does the server take, and how much may JetStream store.
 * @module
 */
import { readFileSync } from 'node:fs'
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { answeredRequestsBuildNoError } from './answered-requests.ts'

interface NatsAuth {
  token?: string
  user?: string
  password?: string
  /** A `.creds` file (JWT and NKey seed), read again at every reconnect so a rotated file is picked up. */
  credsFile?: string
  /** TLS: present (even empty) to require it; files in PEM. */
  tls?: { caFile?: string; certFile?: string; keyFile?: string }
}

export interface NatsConnectOptions {
  /** `nats://host:4222`, `tls://host:4222`; more than one for a cluster. */
  servers: string[]
  auth?: NatsAuth
  /** Connection name shown by the server's monitoring. */
  name?: string
  /** How long the first connection may take, ms. */
  connectTimeoutMs?: number
}

export function connectNats(options: NatsConnectOptions): Promise<NatsConnection> {
  const auth = options.auth ?? {}
  if (options.servers.length === 0) throw new Error('NATS: no servers given')
  if ((auth.user === undefined) !== (auth.password === undefined))
    throw new Error('NATS: user and password go together')
  const { credsFile } = auth
  answeredRequestsBuildNoError()
  return connect({
    servers: options.servers,
    name: options.name ?? 'hookcast',
    timeout: options.connectTimeoutMs ?? 5_000,
    // Forever, a second apart (jittered): the queue answers 503 while it is away, and resumes by itself.
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1_000,
    waitOnFirstConnect: false,
    // A server that vanished without closing the socket (a partition, a dead host) is noticed within ~30 s.
    pingInterval: 10_000,
    maxPingOut: 3,
    // By default the client makes two Error objects (stack traces) for every request, in case it fails: a fifth of
    // a gateway's CPU under load. A failed request still says what failed; only its stack is the client's own.
    noAsyncTraces: true,
    ...(auth.token !== undefined ? { token: auth.token } : {}),
    ...(auth.user !== undefined ? { user: auth.user, pass: auth.password } : {}),
    ...(credsFile !== undefined ? { authenticator: credsAuthenticator(() => readFileSync(credsFile)) } : {}),
    ...(auth.tls ? { tls: { ...auth.tls } } : {}),
  })
}

interface NatsServerReport {
  serverName: string
  version: string
  /** The largest message the server takes, bytes (larger bodies are stored in chunks). */
  maxPayload: number
  jetstream: boolean
  /** JetStream's storage for this account, bytes: used, and the limit (-1: none but the server's disk). */
  storage?: { fileUsed: number; fileLimit: number; memoryUsed: number; memoryLimit: number }
  /** Why JetStream is not usable, when it is not. */
  problem?: string
}

/** Connects once, reports what the server offers, and disconnects. Rejects when it cannot connect. */
export async function inspectNats(options: NatsConnectOptions): Promise<NatsServerReport> {
  const nc = await connectNats(options)
  try {
    const info = nc.info!
    const report: NatsServerReport = {
      serverName: info.server_name,
      version: info.version,
      maxPayload: info.max_payload,
      jetstream: false,
    }
    try {
      const jsm = await jetstreamManager(nc, { timeout: options.connectTimeoutMs ?? 5_000 })
      report.jetstream = true
      const account = await jsm.getAccountInfo()
      report.storage = {
        fileUsed: account.storage,
        fileLimit: account.limits.max_storage,
        memoryUsed: account.memory,
        memoryLimit: account.limits.max_memory,
      }
    } catch (error) {
      report.problem =
        'JetStream is not enabled for this account (start nats-server with -js, or jetstream {} in its config): ' +
        (error as Error).message
    }
    return report
  } finally {
    await nc.close()
  }
}
