/**
 * Two gateways on one nats-server, as behind a round-robin load balancer: a session made on one is honoured by the
 * other, signing out or expiry ends it on both, and the sign-in failure limit counts the guesses made on both.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { connect } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { createGateway, type Gateway } from '../../../src/gateway.ts'
import { parseConfig } from '../../../src/config/load.ts'
import { silentLogger } from '../../../src/log.ts'
import { startNatsServer, type NatsTestServer } from '../../support/nats-server.ts'
import { SECRET } from '../../support/hooks.ts'
import { tempDir } from '../../support/files.ts'

const TOKEN = 'admin-token-of-the-test-0123456789'
const BASE = 'http://hookcast.test'
const HOUR = 3_600_000
let nats: NatsTestServer
const dir = tempDir('hookcast-nats-sessions-')
let gateways: Gateway[] = []
let clock = Date.now()
let prefixes = 0
/** What the gateways warned of (the shared limit falling back to a local count says why here). */
const warnings: string[] = []
const log = {
  ...silentLogger,
  warn: (message: string, fields?: object) => warnings.push(`${message} ${JSON.stringify(fields)}`),
}

beforeAll(async () => {
  nats = await startNatsServer()
})
afterEach(async () => {
  await Promise.all(gateways.map((g) => g.close(500)))
  gateways = []
})
afterAll(async () => {
  await nats?.remove()
  dir.remove()
})

/** Two instances sharing one prefix (one deployment). */
async function pair(): Promise<[Gateway, Gateway]> {
  const config = parseConfig(
    `
server: { maxBodyBytes: 512KiB }
sources:
  millicast: { path: /hooks/millicast, secrets: ["${SECRET}"] }
sinks:
  disk: { type: fs, dir: "${join(dir.path, 'data')}" }
routes:
  - to: [disk]
spool: { type: nats, servers: ["${nats.url}"], prefix: sessions${prefixes++} }
admin: { token: ${TOKEN} }
`,
    {},
  )
  const two = await Promise.all([0, 1].map(() => createGateway(config, { log, now: () => clock })))
  gateways.push(...two)
  return two as [Gateway, Gateway]
}

const ADDRESS = '192.0.2.1'
const signIn = (gateway: Gateway, token = TOKEN, address = ADDRESS) =>
  gateway.fetch(new Request(`${BASE}/login`, { method: 'POST', body: new URLSearchParams({ token }) }), {
    clientAddress: address,
  })
const cookieOf = (answer: Response) => {
  expect(answer.status).toBe(303)
  return answer.headers.get('set-cookie')!.split(';')[0]!
}
const streams = (gateway: Gateway, headers: Record<string, string>, address = ADDRESS) =>
  gateway.fetch(new Request(`${BASE}/api/streams`, { headers }), { clientAddress: address })
const statusOf = async (answer: Response | Promise<Response>) => (await answer).status

describe('page sessions on a NATS backend shared by two instances', () => {
  it('a session made on one instance is honoured by the other, and signing out on one ends it on both', async () => {
    clock = Date.now()
    const [a, b] = await pair()
    const cookie = cookieOf(await signIn(a))
    expect(await statusOf(streams(b, { cookie }))).toBe(200)
    expect(await statusOf(streams(a, { cookie }))).toBe(200)
    const other = cookieOf(await signIn(b))
    const out = await b.fetch(new Request(`${BASE}/logout`, { method: 'POST', headers: { cookie } }))
    expect(out.status).toBe(303)
    expect(await statusOf(streams(a, { cookie }))).toBe(401)
    expect(await statusOf(streams(b, { cookie }))).toBe(401)
    expect(await statusOf(streams(a, { cookie: other }))).toBe(200) // another sign-in is untouched
  })

  it('a session unused for 12 h, or 7 days after sign-in, is refused by both', async () => {
    clock = Date.now()
    const [a, b] = await pair()
    const idle = cookieOf(await signIn(a))
    const busy = cookieOf(await signIn(b))
    const signedInAt = clock
    clock += 11 * HOUR
    expect(await statusOf(streams(a, { cookie: busy }))).toBe(200) // a use on one instance keeps it alive on both
    clock += 2 * HOUR
    expect(await statusOf(streams(b, { cookie: idle }))).toBe(401)
    expect(await statusOf(streams(a, { cookie: idle }))).toBe(401)
    expect(await statusOf(streams(b, { cookie: busy }))).toBe(200)
    for (let step = 0; step < 15; step++) {
      clock += 11 * HOUR
      const live = clock - signedInAt < 7 * 24 * HOUR
      expect(await statusOf(streams(step % 2 ? a : b, { cookie: busy }))).toBe(live ? 200 : 401)
    }
    expect(await statusOf(streams(a, { cookie: busy }))).toBe(401)
    expect(await statusOf(streams(b, { cookie: busy }))).toBe(401)
  })

  it('counts wrong tokens made on either instance against one limit: the 11th is refused, even when right', async () => {
    clock = Date.now()
    const [a, b] = await pair()
    const wrongBearer = { authorization: 'Bearer wrong-guess' }
    for (let i = 0; i < 5; i++) expect(await statusOf(signIn(a, 'wrong-guess'))).toBe(401)
    for (let i = 0; i < 5; i++) expect(await statusOf(streams(b, wrongBearer))).toBe(401)
    const blocked = await signIn(a)
    expect(blocked.status).toBe(429)
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(await statusOf(streams(b, { authorization: `Bearer ${TOKEN}` }))).toBe(429)
    expect(await statusOf(signIn(b, TOKEN, '192.0.2.2'))).toBe(303) // another client is not affected
    clock += 61_000
    expect(await statusOf(signIn(b))).toBe(303)
  })

  it('holds against 300 concurrent wrong tokens from one address spread over both: 10 answered 401, the rest 429', async () => {
    clock = Date.now()
    const [a, b] = await pair()
    // The page's buckets are open from the start, so the burst waits on no open.
    const nc = await connect({ servers: nats.url })
    const names = await (await jetstreamManager(nc, { timeout: 30_000 })).streams.names().next()
    await nc.close()
    expect(names).toEqual(
      expect.arrayContaining([`KV_sessions${prefixes - 1}-sessions`, `KV_sessions${prefixes - 1}-sign-in`]),
    )
    const answers = await Promise.all(
      Array.from({ length: 300 }, (_, i) => statusOf(signIn(i % 2 ? a : b, 'wrong-token-guess', '192.0.2.30'))),
    )
    const count = (status: number) => answers.filter((answer) => answer === status).length
    expect({ 401: count(401), 429: count(429) }, warnings.slice(0, 3).join('\n')).toEqual({ 401: 10, 429: 290 })
  })
})
