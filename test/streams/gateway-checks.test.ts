/**
 * Through the real gateway: a flap window is a check put in the queue for the tracker alone, due at the window's
 * end, that survives a restart (the queue keeps it) and reaches no sink, whatever the routes.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createGateway, type Gateway } from '../../src/gateway.ts'
import { parseConfig } from '../../src/config/load.ts'
import { TRACKER_NAME } from '../../src/streams/tracker.ts'
import { silentLogger } from '../../src/log.ts'
import { post, SECRET, signedJson } from '../support/hooks.ts'
import { listFiles, tempDir } from '../support/files.ts'
import { eventually } from '../support/wait.ts'

const STREAM = 'ZG6NWV/show'
const FLAP_MS = 1_500

describe('flap windows through the gateway', () => {
  let dir: ReturnType<typeof tempDir>
  let gateway: Gateway | undefined
  // The gateway's clock (the queue's due times, the tracker's window): the window ends when the test moves it.
  let clock = Date.now()
  const open = async () => {
    const config = parseConfig(
      `
sources:
  millicast: { path: /hooks/millicast, secrets: ["${SECRET}"] }
sinks:
  disk: { type: fs, dir: "${dir.path}/data", key: "{type}/{event}-{id}.{ext}" }
spool: { dir: "${dir.path}/spool" }
streams: { flapWindow: ${FLAP_MS}ms }
routes:
  - when: {}
    to: [disk]
  - when: { type: [stream] }
    to: [disk]
`,
      {},
    )
    gateway = await createGateway(config, { log: silentLogger, now: () => clock })
    return gateway
  }
  const feed = (event: 'started' | 'ended', at: number) =>
    signedJson({
      type: 'feeds',
      event,
      timestamp: at + 3,
      data: {
        feedId: 'f1',
        accountId: 'ZG6NWV',
        name: 'show',
        streamId: STREAM,
        active: event === 'started',
        [event]: at,
      },
    })
  const stored = () => listFiles(join(dir.path, 'data'))

  beforeEach(() => {
    dir = tempDir('hookcast-gateway-checks-')
    clock = Date.now()
  })
  afterEach(async () => {
    await gateway?.close()
    dir.remove()
  })

  it('a check waiting for its time does not age the spool: its age counts from when it is due', async () => {
    const g = await open()
    expect(
      (await post('http://hookcast.test/hooks/millicast', await feed('started', Date.now()), g.fetch)).status,
    ).toBe(200)
    // Only the tracker's checks are left: the wait for a first thumbnail (45 s), the session's silence (10 min).
    await eventually(async () => {
      const stats = await g.queue.stats()
      return stats.pendingDeliveries === (stats.destinations[TRACKER_NAME] ?? 0) && stats.pendingDeliveries > 0
    })
    clock += 60_000 // the live event is handed on at 45 s, and the check of the session's silence put
    await eventually(() => stored().some((path) => path.startsWith('stream/live-')))
    // The one left is the silence check, not yet due: the live-wait check that put it (due at 45 s, so 15 s old
    // now) has been acked. Waiting for one pending delivery alone could see the live-wait check still under way.
    await eventually(async () => {
      const stats = await g.queue.stats()
      return stats.pendingDeliveries === 1 && stats.oldestPendingAgeMs === 0
    })
    clock += 4 * 60_000 // the silence check has waited 4 minutes, and is not due yet
    expect((await g.queue.stats()).oldestPendingAgeMs).toBe(0)
    clock += 7 * 60_000 // due, and handled: the session ends by silence
    await eventually(() => stored().some((path) => path.startsWith('stream/ended-')))
  })

  it("the window's end waits in the queue, survives a restart, and ends the session once; no sink sees the check", async () => {
    const g = await open()
    const t0 = Date.now() - 5_000
    expect((await post('http://hookcast.test/hooks/millicast', await feed('started', t0), g.fetch)).status).toBe(200)
    expect((await post('http://hookcast.test/hooks/millicast', await feed('ended', t0 + 1_000), g.fetch)).status).toBe(
      200,
    )
    await eventually(async () => (await g.streams.get(STREAM))?.record.status === 'ending')
    await eventually(() => stored().some((path) => path.startsWith('stream/live-')))
    // The check is a delivery to the tracker, not due before the window's end.
    await eventually(async () => ((await g.queue.stats()).destinations[TRACKER_NAME] ?? 0) >= 1)
    await g.close()
    gateway = undefined

    const again = await open()
    expect((await again.queue.stats()).destinations[TRACKER_NAME] ?? 0).toBeGreaterThanOrEqual(1) // kept across the restart
    expect((await again.streams.get(STREAM))!.record.status).toBe('ending')
    expect(stored().filter((path) => path.startsWith('stream/ended-'))).toEqual([])
    clock += FLAP_MS // the window's end
    await eventually(() => stored().some((path) => path.startsWith('stream/ended-')))
    // Everything delivered: nothing more can reach the sink. The session's other checks (the wait for a first
    // thumbnail, its silence) come due later and find it over.
    clock += 15 * 60_000
    await eventually(async () => (await again.queue.stats()).pendingDeliveries === 0)
    const files = stored()
    expect(files.filter((path) => path.startsWith('stream/live-'))).toHaveLength(1)
    expect(files.filter((path) => path.startsWith('stream/ended-'))).toHaveLength(1)
    expect(files.filter((path) => path.startsWith('feeds/'))).toHaveLength(2)
    expect(files).toHaveLength(4) // the checks went to the tracker alone
    const ended = JSON.parse(
      readFileSync(join(dir.path, 'data', files.find((path) => path.startsWith('stream/ended-'))!), 'utf8'),
    )
    expect(ended).toMatchObject({
      type: 'stream',
      event: 'ended',
      data: { streamId: STREAM, liveSince: t0, endedAt: t0 + 1_000 },
    })
    expect((await again.streams.get(STREAM))!.record).toMatchObject({
      status: 'ended',
      emitted: { ended: `${STREAM}@${t0}` },
    })
    expect((await again.queue.stats()).destinations[TRACKER_NAME] ?? 0).toBe(0)
    expect(readdirSync(join(dir.path, 'data'))).toEqual(expect.arrayContaining(['feeds', 'stream']))
  })
})
