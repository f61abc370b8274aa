/**
 * An fs sink stores an event before the gateway answers: the file is whole at the 200, the spool keeps only the
 * event's other deliveries, and a sink that cannot write falls back on the spool with its retries.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createGateway, type Gateway } from '../../src/gateway.ts'
import { parseConfig } from '../../src/config/load.ts'
import { createLogger } from '../../src/log.ts'
import type { OutcomeReport } from '../../src/delivery/deliver-one.ts'
import { storeAtAccept } from '../../src/delivery/store-at-accept.ts'
import type { Destination } from '../../src/destinations/types.ts'
import type { HookEvent } from '../../src/events/types.ts'
import { jpeg, PAYLOADS, post, SECRET, signedJson, signedThumbnail } from '../support/hooks.ts'
import { listFiles, tempDir } from '../support/files.ts'
import { eventually } from '../support/wait.ts'

const URL_BASE = 'http://hookcast.test/hooks/millicast'
let dir: ReturnType<typeof tempDir>
let gateway: Gateway | undefined

afterEach(async () => {
  await gateway?.close()
  gateway = undefined
  dir.remove()
})

/** A gateway with an fs sink and an HTTP notifier nobody answers (its deliveries stay pending in the spool). */
async function start(extra = '', sink = '{ type: fs, dir: "DATA", key: "{type}/{id}.{ext}" }') {
  dir = tempDir()
  const logs: string[] = []
  const outcomes: OutcomeReport[] = []
  const config = parseConfig(
    `
sources:
  millicast: { path: /hooks/millicast, secrets: ["${SECRET}"] }
sinks:
  disk: ${sink.replace('DATA', join(dir.path, 'data'))}
notifiers:
  hook: { type: http, url: "http://127.0.0.1:9/in", mode: envelope }
spool: { dir: "${dir.path}/spool"${extra} }
delivery: { retry: { schedule: [1h] } }
routes:
  - to: [disk, hook]
`,
    {},
  )
  gateway = await createGateway(config, {
    log: createLogger('info', (line) => logs.push(line)),
    onOutcome: (report) => outcomes.push(report),
  })
  return { logs, outcomes, data: join(dir.path, 'data') }
}

describe('deliveries stored before the answer', () => {
  it('an fs sink has the whole file at the 200', async () => {
    const { data, logs, outcomes } = await start()
    const hooks = [await signedThumbnail({ body: jpeg('at-accept', 30_000) }), await signedJson(PAYLOADS.feedsStarted)]
    for (const hook of hooks) {
      const response = await post(URL_BASE, hook, gateway!.fetch)
      expect(response.status).toBe(200)
      const { id } = (await response.json()) as { id: string }
      // Checked at once: no delivery after the answer could have written it yet.
      const file = listFiles(data).find((path) => path.includes(id))
      expect(file, `file of ${id} at the answer`).toBeDefined()
      expect(readFileSync(join(data, file!))).toEqual(Buffer.from(hook.body))
      expect(outcomes).toContainEqual(
        expect.objectContaining({ destination: 'disk', eventId: id, outcome: 'delivered' }),
      )
      expect(logs.some((line) => line.includes('"msg":"delivered"') && line.includes(id))).toBe(true)
    }
    // The spool keeps the other deliveries only (the notifier's, the stream tracker's).
    const pending = (await gateway!.queue.stats()).destinations
    expect(pending.hook).toBe(2)
    expect(pending.disk).toBeUndefined()
  })

  it('leaves the sink to the spool with spool.fsync (its syncs are shared by concurrent requests)', async () => {
    await start(', fsync: true')
    expect((await post(URL_BASE, await signedJson(PAYLOADS.feedsStarted), gateway!.fetch)).status).toBe(200)
    expect((await gateway!.queue.stats()).destinations).toMatchObject({ disk: 1, hook: 1 })
  })

  it('falls back on the spool when the sink cannot write', async () => {
    const { data } = await start()
    writeFileSync(data, 'not a directory')
    const hook = await signedJson(PAYLOADS.feedsStarted)
    expect((await post(URL_BASE, hook, gateway!.fetch)).status).toBe(200)
    expect((await gateway!.queue.stats()).destinations).toMatchObject({ disk: 1, hook: 1 })
  })

  it('leaves a sink with retention to the spool (a sweep has no place before an answer)', async () => {
    const { data } = await start('', '{ type: fs, dir: "DATA", retention: { maxAge: 1d } }')
    expect((await post(URL_BASE, await signedJson(PAYLOADS.feedsStarted), gateway!.fetch)).status).toBe(200)
    expect((await gateway!.queue.stats()).destinations).toMatchObject({ disk: 1, hook: 1 })
    await eventually(() => listFiles(data).length === 1)
  })
})

describe('storeAtAccept', () => {
  const event = { id: 'e1', body: new Uint8Array([1]) } as HookEvent
  const destination = (name: string, store?: () => Promise<void>): Destination =>
    Object.assign({ name, kind: 'sink' as const, deliver: async () => {} }, store ? { storeAtAccept: store } : {})

  it('stores where it can, leaves the rest and the failures to the spool, and reports after the put', async () => {
    const outcomes: OutcomeReport[] = []
    const lines: string[] = []
    const destinations = new Map([
      ['local', destination('local', async () => {})],
      ['broken', destination('broken', () => Promise.reject(new Error('disk on fire')))],
      ['remote', destination('remote')],
    ])
    const store = storeAtAccept({
      destinations,
      timeoutMs: () => 30_000,
      log: createLogger('debug', (line) => lines.push(line)),
      onOutcome: (report) => outcomes.push(report),
    })
    const stored = await store(event, ['local', 'broken', 'remote', 'unknown'])
    expect(stored.queued).toEqual(['broken', 'remote', 'unknown'])
    expect(outcomes).toEqual([])
    stored.report()
    expect(outcomes).toEqual([expect.objectContaining({ destination: 'local', eventId: 'e1', outcome: 'delivered' })])
    expect(lines.some((line) => line.includes('disk on fire') && line.includes('"destination":"broken"'))).toBe(true)
  })

  it('answers at once, with every name queued, when no destination can store', async () => {
    const store = storeAtAccept({
      destinations: new Map([['remote', destination('remote')]]),
      timeoutMs: () => 30_000,
      log: createLogger('debug', () => {}),
    })
    const names = ['remote', '@streams']
    expect((await store(event, names)).queued).toBe(names)
  })
})
