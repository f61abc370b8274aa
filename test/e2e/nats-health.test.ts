/**
 * Stream health with two gateway instances on one NATS JetStream: the health state is in the shared stream record,
 * so thumbnails landing on either instance make one run of pictures, and each problem and recovery is raised once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createGateway, type Gateway } from '../../src/gateway.ts'
import { parseConfig } from '../../src/config/load.ts'
import { silentLogger } from '../../src/log.ts'
import { startNatsServer, type NatsTestServer } from '../support/nats-server.ts'
import { post, SECRET, signedJson, signedThumbnail } from '../support/hooks.ts'
import { listFiles, tempDir } from '../support/files.ts'
import { eventually } from '../support/wait.ts'
import { pictureFixtures, type PictureFixtures } from '../support/pictures.ts'

const URL_BASE = 'http://hookcast.test/hooks/millicast'
const STREAM = 'ZG6NWV/shared'
let nats: NatsTestServer
let pictures: PictureFixtures
const dir = tempDir('hookcast-nats-health-')
const gateways: Gateway[] = []

async function open(instance: string): Promise<Gateway> {
  const config = parseConfig(
    `
server: { maxBodyBytes: 512KiB }
sources:
  millicast: { path: /hooks/millicast, secrets: ["${SECRET}"] }
sinks:
  alerts: { type: fs, dir: "${dir.path}/alerts", key: "{event}-{id}.{ext}" }
spool: { type: nats, servers: ["${nats.url}"], prefix: "health", ackWait: 2s, publishTimeout: 1s }
streams: { thumbnailWait: 1s }
routes:
  - when: { type: [stream] }
    to: [alerts]
# ${instance}
`,
    {},
  )
  const gateway = await createGateway(config, { log: silentLogger })
  gateways.push(gateway)
  return gateway
}

beforeAll(async () => {
  nats = await startNatsServer({ maxPayload: 1024 * 1024 })
  pictures = await pictureFixtures()
}, 120_000)
afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close(1_000).catch(() => {})))
  await nats.remove()
  dir.remove()
})

describe('stream health on NATS', () => {
  it('two instances share the state and raise each problem and its recovery once', async () => {
    const [a, b] = [await open('a'), await open('b')]
    const start = Date.now() - 10 * 60_000
    const started = await signedJson({
      type: 'feeds',
      event: 'started',
      timestamp: start + 5,
      data: { feedId: 'f1', accountId: 'ZG6NWV', name: 'shared', streamId: STREAM, started: start, active: true },
    })
    expect((await post(URL_BASE, started, a.fetch)).status).toBe(200)
    await eventually(async () => (await a.streams.get(STREAM))?.record.status === 'live', 30_000)
    const frames = [...pictures.black.slice(0, 3), ...pictures.varied.slice(0, 2)]
    for (const [i, body] of frames.entries()) {
      const timestamp = start + (i + 1) * 30_000
      const hook = await signedThumbnail({ body, streamId: STREAM, feedId: 'f1', timestamp })
      expect((await post(URL_BASE, hook, (i % 2 === 0 ? a : b).fetch)).status).toBe(200)
      // Looked at (by whichever instance took it) before the next is sent.
      await eventually(async () => ((await b.streams.get(STREAM))?.record.health?.lookedAt ?? 0) >= timestamp, 60_000)
    }
    const events = () => listFiles(join(dir.path, 'alerts'))
    await eventually(() => events().some((file) => file.startsWith('recovered-')), 30_000)
    await eventually(async () => (await a.queue.stats()).pendingDeliveries <= 2, 30_000) // only checks ahead
    const names = events().map((file) => file.split('-')[0])
    expect(names.sort()).toEqual(['black', 'live', 'recovered'])
    const recovered = events().find((file) => file.startsWith('recovered-'))!
    expect(JSON.parse(readFileSync(join(dir.path, 'alerts', recovered), 'utf8')).data).toMatchObject({
      problem: 'black',
      streamId: STREAM,
    })
    expect((await a.streams.get(STREAM))?.record.health).toMatchObject({ state: 'ok', open: {}, outbox: [] })
  }, 240_000)
})
