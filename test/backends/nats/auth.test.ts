/**
 * A gateway on a NATS spool that needs credentials (`spool.auth`, backends/nats/connect.ts): user and password, a
 * `.creds` file (operator mode: a user JWT and its NKey seed), and TLS with a private CA and client certificates.
 * Each works end to end (a hook is taken and delivered through JetStream), and the server really checks it (wrong or
 * missing credentials are refused at start). A creds file is read again at every reconnect: after the file is
 * replaced and the server restarted with the old user revoked, the gateway comes back with the new one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseConfig } from '../../../src/config/load.ts'
import { createGateway, type Gateway } from '../../../src/gateway.ts'
import { silentLogger } from '../../../src/log.ts'
import { connectNats } from '../../../src/backends/nats/connect.ts'
import { PAYLOADS, post, SECRET, signedJson } from '../../support/hooks.ts'
import { tempDir } from '../../support/files.ts'
import { natsOperator } from '../../support/nats-jwt.ts'
import { startNatsServer, type NatsTestServer } from '../../support/nats-server.ts'
import { makeTestCertificates, type TestCertificates } from '../../support/tls-certs.ts'
import { eventually } from '../../support/wait.ts'

let dir: ReturnType<typeof tempDir>
beforeAll(() => {
  dir = tempDir('hookcast-nats-auth-')
})
afterAll(() => dir?.remove())

let prefixes = 0
/** A gateway on `server` with `auth` (YAML), delivering every hook to an fs sink. */
function gateway(server: NatsTestServer, auth: string): Promise<Gateway> {
  return createGateway(
    parseConfig(
      `
server: { maxBodyBytes: 512KiB }
sources:
  millicast: { path: /hooks/millicast, secrets: ["${SECRET}"] }
sinks:
  disk: { type: fs, dir: "${join(dir.path, 'data')}", key: "{type}/{id}.{ext}" }
routes:
  - to: [disk]
spool: { type: nats, servers: ["${server.url}"], prefix: auth${prefixes++}, auth: ${auth} }
`,
      {},
    ),
    { log: silentLogger },
  )
}

/** A hook is answered 200 and its delivery, claimed from JetStream, reaches the sink. */
async function takesAndDelivers(g: Gateway): Promise<void> {
  const hook = await signedJson({ ...PAYLOADS.transcoderActive, timestamp: Date.now() })
  const response = await post('http://hookcast.test/hooks/millicast', hook, g.fetch)
  expect(response.status).toBe(200)
  const { id } = (await response.json()) as { id: string }
  await eventually(() => existsSync(join(dir.path, 'data', 'transcoder', `${id}.json`)))
}

async function refused(auth: string, server: NatsTestServer): Promise<string> {
  const error = await gateway(server, auth).then(
    async (g) => {
      await g.close(0)
      return undefined
    },
    (e: Error) => e,
  )
  expect(error, `a gateway started with auth ${auth}`).toBeInstanceOf(Error)
  return error!.message
}

describe('NATS user and password', () => {
  let server: NatsTestServer
  beforeAll(async () => {
    server = await startNatsServer({
      extraConfig: 'authorization { users = [ { user: "hookcast", password: "right-password" } ] }',
    })
  })
  afterAll(() => server?.remove())

  it('connects with the right ones, and is refused without them', async () => {
    const g = await gateway(server, '{ user: hookcast, password: right-password }')
    try {
      await takesAndDelivers(g)
    } finally {
      await g.close(0)
    }
    expect(await refused('{ user: hookcast, password: wrong-password }', server)).toMatch(/authorization violation/i)
    expect(await refused('{}', server)).toMatch(/authorization violation/i)
  })
})

describe('NATS TLS', () => {
  let server: NatsTestServer
  let certs: TestCertificates
  beforeAll(async () => {
    certs = makeTestCertificates()
    // verify: every client must present a certificate the CA signed. A generous handshake timeout for a busy machine.
    server = await startNatsServer({
      extraConfig:
        `tls { cert_file: "${certs.server.certFile}", key_file: "${certs.server.keyFile}", ` +
        `ca_file: "${certs.caFile}", verify: true, timeout: 10 }`,
    })
  })
  afterAll(async () => {
    await server?.remove()
    certs?.remove()
  })

  it('connects trusting the private CA and presenting a client certificate; refused without either', async () => {
    const { caFile, client } = certs
    const clientCert = `certFile: "${client.certFile}", keyFile: "${client.keyFile}"`
    const g = await gateway(server, `{ tls: { caFile: "${caFile}", ${clientCert} } }`)
    try {
      await takesAndDelivers(g)
    } finally {
      await g.close(0)
    }
    // Without the CA, the server's certificate is not trusted; without a client certificate, the server says no.
    expect(await refused(`{ tls: { ${clientCert} } }`, server)).toMatch(/certificate/i)
    const logged = server.logs.length
    await refused(`{ tls: { caFile: "${caFile}" } }`, server) // the client only sees the connection go (a timeout)
    const noCertificate = (line: string) => line.includes("client didn't provide a certificate")
    await eventually(() => server.logs.slice(logged).some(noCertificate))
  })
})

describe('NATS creds file', () => {
  const operator = natsOperator()
  const [first, second] = [operator.user('hookcast-1'), operator.user('hookcast-2')]
  let server: NatsTestServer
  beforeAll(async () => {
    server = await startNatsServer({ extraConfig: operator.serverConfig() })
  })
  afterAll(() => server?.remove())
  const connectWith = (credsFile: string) => connectNats({ servers: [server.url], auth: { credsFile } })

  it('connects with a user JWT and seed, and reads the file again when it reconnects', async () => {
    const credsFile = join(dir.path, 'hookcast.creds')
    writeFileSync(credsFile, first.creds, { mode: 0o600 })
    const g = await gateway(server, `{ credsFile: "${credsFile}" }`)
    try {
      await takesAndDelivers(g)

      // Rotation: the file now holds the second user; the server restarts with the first one revoked.
      writeFileSync(credsFile, second.creds)
      await server.stop()
      const config = readFileSync(server.configPath, 'utf8')
      writeFileSync(server.configPath, config.replace(/operator:[\s\S]*$/, `${operator.serverConfig([first])}\n`))
      await server.start()
      const oldFile = join(dir.path, 'old.creds')
      writeFileSync(oldFile, first.creds, { mode: 0o600 })
      await expect(connectWith(oldFile)).rejects.toThrow(/authorization violation/i)

      // Both of the gateway's connections (the queue's and the stream state's) come back, as the second user.
      await eventually(async () => (await g.fetch(new Request('http://hookcast.test/readyz'))).status === 200, 30_000)
      await takesAndDelivers(g)
    } finally {
      await g.close(0)
    }
    // A user of another operator is refused: the server checks whose JWT it is.
    const strangerFile = join(dir.path, 'stranger.creds')
    writeFileSync(strangerFile, natsOperator().user('stranger').creds, { mode: 0o600 })
    await expect(connectWith(strangerFile)).rejects.toThrow(/authorization violation/i)
  }, 60_000)
})
