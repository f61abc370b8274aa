/**
 * The gateway with `spool: { type: nats }` against a real nats-server: hooks go through JetStream to the sink,
 * stream state lives in KV (a live alert per session), a hook replayed to a second instance is not delivered twice,
 * and while NATS is away hooks get 503 (never 200 for what the server did not keep) and /readyz says so, until it
 * comes back by itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readFileSync, writeFileSync } from 'node:fs'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createGateway, type Gateway } from '../../src/gateway.ts'
import { parseConfig } from '../../src/config/load.ts'
import { silentLogger } from '../../src/log.ts'
import { startNatsServer, type NatsTestServer } from '../support/nats-server.ts'
import { jpeg, PAYLOADS, post, SECRET, signedJson, signedThumbnail } from '../support/hooks.ts'
import { listFiles, tempDir } from '../support/files.ts'
import { ROOT } from '../support/runtimes.ts'
import { eventually } from '../support/wait.ts'

const URL_BASE = 'http://hookcast.test/hooks/millicast'
const TOKEN = 'admin-token-of-the-test-0123456789'
let nats: NatsTestServer
const dir = tempDir('hookcast-nats-gateway-')
const gateways: Gateway[] = []

const configFor = (instance: string) =>
  parseConfig(
    `
server: { maxBodyBytes: 512KiB }
sources:
  millicast: { path: /hooks/millicast, secrets: ["${SECRET}"] }
sinks:
  disk: { type: fs, dir: "${dir.path}/data", key: "{type}/{id}.{ext}" }
  alerts: { type: fs, dir: "${dir.path}/alerts", key: "{event}/{streamId}/{id}.{ext}" }
spool: { type: nats, servers: ["${nats.url}"], prefix: "gw", ackWait: 2s, publishTimeout: 1s }
streams: { flapWindow: 1s }
admin: { token: ${TOKEN} }
routes:
  - when: { type: [thumbnail, feeds] }
    to: [disk]
  - when: { type: [stream] }
    to: [alerts]
# ${instance}
`,
    {},
  )

async function open(instance: string): Promise<Gateway> {
  const gateway = await createGateway(configFor(instance), { log: silentLogger })
  gateways.push(gateway)
  return gateway
}

beforeAll(async () => {
  nats = await startNatsServer({ maxPayload: 1024 * 1024 })
})
afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close(1_000).catch(() => {})))
  await nats.remove()
  dir.remove()
})

describe('gateway on NATS JetStream', () => {
  it('delivers through JetStream, tracks streams in KV across instances, and does not deliver a replay twice', async () => {
    const [a, b] = [await open('a'), await open('b')]
    const started = await signedJson(PAYLOADS.feedsStarted)
    const thumb = await signedThumbnail({
      body: jpeg('nats-first', 20_000),
      timestamp: PAYLOADS.feedsStarted.data.started + 1_000,
    })
    const first = await post(URL_BASE, started, a.fetch)
    expect(first.status).toBe(200)
    const startedId = ((await first.json()) as { id: string }).id
    expect((await post(URL_BASE, thumb, b.fetch)).status).toBe(200) // the thumbnail lands on the other instance
    const again = await post(URL_BASE, thumb, a.fetch) // the same hook, replayed to another instance
    expect(again.status).toBe(200)
    expect(((await again.json()) as { duplicate: boolean }).duplicate).toBe(true)

    const thumbId = ((await (await post(URL_BASE, thumb, b.fetch)).json()) as { id: string }).id
    await eventually(
      () =>
        listFiles(join(dir.path, 'data')).includes(`thumbnail/${thumbId}.jpg`) &&
        listFiles(join(dir.path, 'data')).length === 2,
      15_000,
    )
    expect(readFileSync(join(dir.path, 'data', 'thumbnail', `${thumbId}.jpg`)).equals(Buffer.from(thumb.body))).toBe(
      true,
    )
    // One live alert for the session, whichever instance tracked which hook.
    await eventually(
      () => listFiles(join(dir.path, 'alerts')).filter((f) => f.startsWith('live/')).length === 1,
      15_000,
    )
    // Either instance's admin API lists the stream, and the events every instance accepted, with their deliveries.
    const admin = { headers: { authorization: `Bearer ${TOKEN}` } }
    await eventually(async () => {
      const { events } = (await (await b.fetch(new Request('http://hookcast.test/api/events', admin))).json()) as {
        events: Array<{ id: string; deliveries: Array<{ state: string }> }>
      }
      const seen = events.find((e) => e.id === startedId) // accepted by a, delivered by either
      return seen?.deliveries.every((d) => d.state === 'delivered') && events.some((e) => e.id === thumbId)
    }, 15_000)
    for (const gateway of [a, b]) {
      const streams = (await (
        await gateway.fetch(
          new Request('http://hookcast.test/api/streams', { headers: { authorization: `Bearer ${TOKEN}` } }),
        )
      ).json()) as { streams: Array<{ streamId: string; status: string }> }
      expect(streams.streams.map((s) => s.streamId)).toContain(PAYLOADS.feedsStarted.data.streamId)
    }
  }, 60_000)

  it('answers 503 while NATS is away, says so on /readyz, and works again once it is back', async () => {
    const gateway = await open('c')
    const readyz = async () => (await gateway.fetch(new Request('http://hookcast.test/readyz'))).status
    expect(await readyz()).toBe(200)
    await nats.stop()
    try {
      await eventually(async () => (await readyz()) === 503, 10_000)
      const hook = await signedJson({ ...PAYLOADS.feedsEnded, timestamp: PAYLOADS.feedsEnded.timestamp + 7 })
      expect((await post(URL_BASE, hook, gateway.fetch)).status).toBe(503)
    } finally {
      await nats.start()
    }
    await eventually(async () => (await readyz()) === 200, 20_000)
    const later = await signedJson({ ...PAYLOADS.feedsEnded, timestamp: PAYLOADS.feedsEnded.timestamp + 9 })
    const answer = await post(URL_BASE, later, gateway.fetch)
    expect(answer.status).toBe(200)
    const { id } = (await answer.json()) as { id: string }
    await eventually(() => listFiles(join(dir.path, 'data')).includes(`feeds/${id}.json`), 15_000)
  }, 60_000)

  it('hookcast check passes a stock server with the default server.maxBodyBytes, reporting its limits', async () => {
    const config = join(dir.path, 'check.yaml')
    writeFileSync(
      config,
      `
server: { host: 127.0.0.1 }
sources:
  millicast: { path: /hooks/millicast, secrets: ["${SECRET}"] }
spool: { type: nats, servers: ["${nats.url}"] }
`,
    )
    const checked = await hookcast(['check', '--config', config])
    expect(checked.stdout).toMatch(/JetStream on, max_payload 1048576 \(larger bodies in chunks\)/)
    expect(checked.stdout).toMatch(/JetStream file storage [\d.]+ MB used of (no account limit|[\d.]+ MB), memory/)
    expect(checked.code).toBe(0)
  }, 60_000)
})

function hookcast(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/hookcast.js', ...args], { cwd: ROOT })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => {
      stdout += chunk
    })
    child.stderr.on('data', (chunk) => {
      stderr += chunk
    })
    child.on('exit', (code) => resolve({ code, stdout, stderr }))
  })
}
