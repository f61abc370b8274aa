/**
 * A nats-server for one test file (test/support/nats-server.ts, started before its tests and removed after), and
 * connections to it: each a separate client, as another instance's would be; all closed before the server goes.
 */
import { afterAll, beforeAll } from 'vitest'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { startNatsServer, type NatsServerOptions, type NatsTestServer } from '../../support/nats-server.ts'

export interface NatsForTests {
  /** A new connection (another instance, or the same one after a restart). */
  connect(): Promise<NatsConnection>
  /** `nats://127.0.0.1:<port>` */
  url(): string
}

export function natsForTests(options: NatsServerOptions = {}): NatsForTests {
  let server: NatsTestServer | undefined
  const connections: NatsConnection[] = []
  beforeAll(async () => {
    server = await startNatsServer(options)
  })
  afterAll(async () => {
    await Promise.all(connections.map((nc) => nc.close().catch(() => {})))
    await server?.remove()
  })
  return {
    url: () => server!.url,
    async connect() {
      const nc = await connect({ servers: server!.url, maxReconnectAttempts: 0 })
      connections.push(nc)
      return nc
    },
  }
}
