/**
 * Stream health through the real gateway on Node, Deno and Bun: real JPEG sequences (test/support/pictures.ts) sent as
 * signed thumbnails, each stream raising exactly its own problem and its recovery as `stream` events in a sink; a
 * restart in the middle of a problem raises no second alert; thumbnails that stop are `quiet` until one comes back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { missingRuntime, RUNTIMES, startServer, type RunningServer } from '../support/runtimes.ts'
import { post, SECRET, signedJson, signedThumbnail } from '../support/hooks.ts'
import { listFiles, tempDir } from '../support/files.ts'
import { eventually } from '../support/wait.ts'
import { skipWhen } from '../support/skip.ts'
import { pictureFixtures, type PictureFixtures } from '../support/pictures.ts'
import { streamKey } from '../../src/streams/stream-key.ts'
import type { StreamRecord } from '../../src/streams/stream-types.ts'

let pictures: PictureFixtures
beforeAll(async () => {
  pictures = await pictureFixtures()
}, 120_000)

/** A gateway whose stream events land in `<dir>/data/stream/<stream name>/`. */
function gatewayConfig(dir: string, quiet: string): string {
  const config = join(dir, 'config.yaml')
  writeFileSync(
    config,
    `
sources:
  millicast: { path: /hooks/millicast, secrets: ["${SECRET}"] }
sinks:
  disk: { type: fs, dir: "${join(dir, 'data')}", key: "{type}/{streamName}/{event}-{id}.{ext}" }
spool: { dir: "${join(dir, 'spool')}" }
streams: { thumbnailWait: 2s, health: { quiet: { after: ${quiet} } } }
routes:
  - when: { type: [stream] }
    to: [disk]
`,
  )
  return config
}

/** Sends one stream's hooks and reads back what the gateway made of them. */
function streamOf(dir: string, name: string, url: () => string) {
  const streamId = `ZG6NWV/${name}`
  const start = Date.now() - 10 * 60_000
  let sent = 0
  const record = (): StreamRecord | undefined => {
    try {
      const file = join(dir, 'spool', 'streams', 'records', `${streamKey(streamId)}.json`)
      return JSON.parse(readFileSync(file, 'utf8')) as StreamRecord
    } catch {
      return undefined
    }
  }
  return {
    async started() {
      const hook = await signedJson({
        type: 'feeds',
        event: 'started',
        timestamp: start + 5,
        data: { feedId: 'f1', accountId: 'ZG6NWV', name, streamId, started: start, active: true },
      })
      expect((await post(`${url()}/hooks/millicast`, hook)).status).toBe(200)
      // Pictures are looked at while the session is live: its first thumbnail may otherwise come before it is.
      await eventually(() => record()?.status === 'live', 30_000)
    },
    /** Thumbnails taken 30 s apart; each one is looked at before the next is sent (one at a time per stream). */
    async thumbnails(frames: Uint8Array[]) {
      for (const body of frames) {
        const timestamp = start + ++sent * 30_000
        const hook = await signedThumbnail({ body, streamId, feedId: 'f1', timestamp })
        expect((await post(`${url()}/hooks/millicast`, hook)).status).toBe(200)
        await eventually(() => (record()?.health?.lookedAt ?? 0) >= timestamp, 60_000)
      }
    },
    /** The stream events stored, as `event` or `recovered:problem`, in the order they were handed on. */
    events(): string[] {
      const folder = join(dir, 'data', 'stream', name)
      return listFiles(folder)
        .map((file) => JSON.parse(readFileSync(join(folder, file), 'utf8')) as Record<string, unknown>)
        .sort((a, b) => (a.timestamp as number) - (b.timestamp as number))
        .map((event) => {
          const data = event.data as { problem?: string }
          return event.event === 'recovered' ? `recovered:${data.problem}` : String(event.event)
        })
    },
    record,
  }
}

describe.each(RUNTIMES)('stream health on %s', (runtime) => {
  const missing = missingRuntime(runtime)
  if (missing) {
    it('runs there', skipWhen(missing), () => {})
    return
  }
  let dir: ReturnType<typeof tempDir>
  let server: RunningServer | undefined
  beforeAll(() => {
    dir = tempDir(`hookcast-health-${runtime}-`)
  })
  afterAll(async () => {
    await server?.stop()
    dir.remove()
  })

  it('each stream raises exactly its own problem and its recovery; a restart mid-problem raises no second alert', async () => {
    const config = gatewayConfig(dir.path, '10m')
    server = await startServer(runtime, config)
    const url = () => server!.url
    const black = streamOf(dir.path, 'black', url)
    const still = streamOf(dir.path, 'still', url)
    const clock = streamOf(dir.path, 'clock', url)
    const reencoded = streamOf(dir.path, 'reencoded', url)
    for (const stream of [black, still, clock, reencoded]) await stream.started()
    // One stream after another: thumbnails that come while two are being looked at are skipped (by design).
    await black.thumbnails(pictures.black.slice(0, 3))
    await still.thumbnails(pictures.still)
    await clock.thumbnails(pictures.clock)
    await reencoded.thumbnails(pictures.reencoded)
    await eventually(() => black.events().includes('black') && still.events().includes('frozen'), 30_000)
    await eventually(() => reencoded.events().includes('frozen'), 30_000)
    expect(server.logs.filter((line) => line.includes('"level":"error"'))).toEqual([])

    await server.stop()
    server = await startServer(runtime, config)
    await black.thumbnails([pictures.black[3]!, pictures.black[0]!, ...pictures.varied.slice(0, 2)])
    await still.thumbnails(pictures.varied.slice(0, 2))
    await eventually(() => black.events().length === 3 && still.events().length === 3, 30_000)
    expect(black.events()).toEqual(['live', 'black', 'recovered:black'])
    expect(still.events()).toEqual(['live', 'frozen', 'recovered:frozen'])
    expect(reencoded.events()).toEqual(['live', 'frozen'])
    expect(clock.events()).toEqual(['live'])
    expect(black.record()?.health).toMatchObject({ state: 'ok', open: {} })
    expect(reencoded.record()?.health).toMatchObject({
      state: 'frozen',
      open: { frozen: { since: expect.any(Number) } },
    })
    await server.stop()
    server = undefined
  }, 240_000)

  it('thumbnails that stop are quiet once, and the next one recovers it', async () => {
    const quietDir = tempDir(`hookcast-quiet-${runtime}-`)
    server = await startServer(runtime, gatewayConfig(quietDir.path, '2s'))
    const url = () => server!.url
    const quiet = streamOf(quietDir.path, 'quiet', url)
    const silent = streamOf(quietDir.path, 'nothumbnails', url)
    await quiet.started()
    await silent.started()
    await quiet.thumbnails(pictures.varied.slice(0, 1))
    await eventually(() => quiet.events().includes('quiet'), 30_000)
    await quiet.thumbnails(pictures.varied.slice(1, 2))
    await eventually(() => quiet.events().length === 3, 30_000)
    expect(quiet.events()).toEqual(['live', 'quiet', 'recovered:quiet'])
    await eventually(() => silent.events().length > 0, 30_000) // live after thumbnailWait, without a thumbnail
    expect(silent.events()).toEqual(['live'])
    await server.stop()
    server = undefined
    quietDir.remove()
  }, 120_000)
})
