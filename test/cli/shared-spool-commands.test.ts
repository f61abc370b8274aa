/**
 * `hookcast check` and `hookcast replay` on the shared spools (src/cli/check.ts, src/cli/replay.ts through
 * src/backends/replay.ts), run in-process through the command line's `main`:
 * - check on an S3 spool whose bucket ignores conditional writes (s3rver alone) names the problem and exits 1; the
 *   same bucket behind a store that honours them (the conditional proxy) passes;
 * - replay on a NATS and on an S3 spool makes the matching dead letters pending again in the shared queue, where
 *   any instance claims them with their event's exact body, and leaves the others.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { main } from '../../src/cli/main.ts'
import type { Io } from '../../src/cli/io.ts'
import { parseThumbnail } from '../../src/events/parse.ts'
import type { HookEvent } from '../../src/events/types.ts'
import { silentLogger } from '../../src/log.ts'
import { openNatsQueue } from '../../src/backends/nats/queue.ts'
import { openS3Queue } from '../../src/backends/s3/queue.ts'
import type { Queue } from '../../src/queue/types.ts'
import { jpeg, SECRET, signedThumbnail } from '../support/hooks.ts'
import { tempDir } from '../support/files.ts'
import { startNatsServer, type NatsTestServer } from '../support/nats-server.ts'
import { S3_ACCESS_KEY, S3_SECRET_KEY, startS3Server, type S3TestServer } from '../support/s3-server.ts'
import { startConditionalProxy, type ConditionalProxy } from '../backends/s3/conditional-proxy.ts'

const BUCKET = 'cli-spool'
const ENV = { S3_KEY: S3_ACCESS_KEY, S3_SECRET: S3_SECRET_KEY }

let dir: ReturnType<typeof tempDir>
let s3: S3TestServer
let proxy: ConditionalProxy
let nats: NatsTestServer
beforeAll(async () => {
  dir = tempDir('hookcast-cli-spool-')
  ;[s3, nats] = await Promise.all([startS3Server([BUCKET]), startNatsServer()])
  proxy = await startConditionalProxy(s3.endpoint)
})
afterAll(async () => {
  await proxy?.stop()
  await s3?.stop()
  await nats?.remove()
  dir?.remove()
})

let configs = 0
function configFile(spool: string): string {
  const path = join(dir.path, `config-${configs++}.yaml`)
  writeFileSync(
    path,
    `
sources:
  millicast: { path: /hooks/millicast, secrets: ["${SECRET}"] }
sinks:
  disk: { type: fs, dir: "${join(dir.path, 'data')}" }
  hook: { type: fs, dir: "${join(dir.path, 'data-hook')}" }
spool: ${spool}
`,
  )
  return path
}
const s3Spool = (endpoint: string, prefix: string) =>
  `{ type: s3, bucket: ${BUCKET}, endpoint: "${endpoint}", ` +
  `accessKeyId: "\${S3_KEY}", secretAccessKey: "\${S3_SECRET}", prefix: ${prefix} }`

async function hookcast(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = []
  const err: string[] = []
  const io: Io = { out: (line) => out.push(line), err: (line) => err.push(line), progress: () => {} }
  const code = (await main(args, ENV, io)) as number
  return { code, out: out.join('\n'), err: err.join('\n') }
}

let counter = 0
async function thumbnail(): Promise<HookEvent> {
  const hook = await signedThumbnail({ body: jpeg(`cli-replay-${counter++}`, 4_000) })
  return parseThumbnail(hook.body, new Headers(hook.headers), { source: 'millicast', receivedAt: Date.now() })
}

/** Puts an event for each destination and makes every delivery a dead letter; returns the events by destination. */
async function deadLetters(queue: Queue, destinations: string[]): Promise<Record<string, HookEvent>> {
  const events: Record<string, HookEvent> = {}
  for (const destination of destinations) {
    events[destination] = await thumbnail()
    await queue.put(events[destination]!, [destination])
    const [claim] = await queue.claim({ destination, max: 1, leaseMs: 60_000, waitMs: 5_000 })
    expect(claim?.eventId).toBe(events[destination]!.id)
    await queue.dead(claim!, [{ at: Date.now(), error: 'answered 400' }])
  }
  expect((await queue.deadLetters()).map((letter) => letter.destination).sort()).toEqual([...destinations].sort())
  return events
}

/** `hookcast replay` by destination, then by event: each brings back its own dead letter, pending with no attempts. */
async function replayBoth(config: string, queue: Queue): Promise<void> {
  const events = await deadLetters(queue, ['hook', 'disk'])

  const byDestination = await hookcast('replay', '--config', config, '--destination', 'hook')
  expect(byDestination).toMatchObject({ code: 0, err: '' })
  expect(byDestination.out).toBe('replayed 1 dead letter: pending again in the shared queue')
  expect((await queue.deadLetters()).map((letter) => letter.destination)).toEqual(['disk'])
  const [hook] = await queue.claim({ destination: 'hook', max: 5, leaseMs: 60_000, waitMs: 5_000 })
  expect(hook).toMatchObject({ eventId: events.hook!.id, attempts: [] })
  expect(Buffer.from((await queue.load(hook!)).body).equals(Buffer.from(events.hook!.body))).toBe(true)
  await queue.ack(hook!)

  expect((await hookcast('replay', '--config', config, '--event', 'f'.repeat(24))).out).toBe('no dead letters matched')
  const byEvent = await hookcast('replay', '--config', config, '--event', events.disk!.id)
  expect(byEvent.out).toBe('replayed 1 dead letter: pending again in the shared queue')
  expect(await queue.deadLetters()).toEqual([])
  const [disk] = await queue.claim({ destination: 'disk', max: 5, leaseMs: 60_000, waitMs: 5_000 })
  expect(disk).toMatchObject({ eventId: events.disk!.id, attempts: [] })
  expect(Buffer.from((await queue.load(disk!)).body).equals(Buffer.from(events.disk!.body))).toBe(true)
  await queue.ack(disk!)
}

describe('hookcast check on an S3 spool', () => {
  it('names a bucket that ignores conditional writes as a problem, and exits 1', async () => {
    const result = await hookcast('check', '--config', configFile(s3Spool(s3.endpoint, 'check-raw')))
    expect(result.code).toBe(1)
    expect(result.out).toContain(`spool: s3://${BUCKET}/check-raw/: conditional create NO, replace NO, delete NO`)
    expect(result.err).toContain(`problem: spool: bucket ${BUCKET} does not honour conditional writes`)
  })

  it('passes a bucket that honours them', async () => {
    const result = await hookcast('check', '--config', configFile(s3Spool(proxy.endpoint, 'check-ok')))
    expect(result.out).toContain(`spool: s3://${BUCKET}/check-ok/: conditional create yes, replace yes, delete yes`)
    expect(result).toMatchObject({ code: 0, err: '' })
    expect(result.out).toContain('all checks passed')
  })
})

describe('hookcast replay on a shared spool', () => {
  it('on NATS', async () => {
    const prefix = 'clireplay'
    const queue = await openNatsQueue({
      servers: [nats.url],
      prefix,
      dedupWindowMs: 600_000,
      sweepEveryMs: 0,
      log: silentLogger,
    })
    try {
      await replayBoth(configFile(`{ type: nats, servers: ["${nats.url}"], prefix: ${prefix} }`), queue)
    } finally {
      await queue.close()
    }
  })

  it('on S3', async () => {
    const prefix = 'cli-replay'
    const queue = await openS3Queue({
      bucket: BUCKET,
      endpoint: proxy.endpoint,
      accessKeyId: S3_ACCESS_KEY,
      secretAccessKey: S3_SECRET_KEY,
      prefix,
      dedupWindowMs: 600_000,
      sweepEveryMs: 0,
      pollMs: 50,
      log: silentLogger,
    })
    try {
      await replayBoth(configFile(s3Spool(proxy.endpoint, prefix)), queue)
    } finally {
      await queue.close()
    }
  })
})
