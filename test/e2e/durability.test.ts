/**
 * Never lose an accepted event: the real server, killed with SIGKILL mid-burst, destinations down and back,
 * rate limits, dead letters replayed from the CLI, and a full spool.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { ROOT, startServer, type Runtime, type RunningServer } from '../support/runtimes.ts'
import { startReceiver, type Receiver } from '../support/receiver.ts'
import { jpeg, PAYLOADS, post, signedJson, signedThumbnail, type SignedHook } from '../support/hooks.ts'
import { listFiles, tempDir } from '../support/files.ts'
import { eventually, sleep } from '../support/wait.ts'

const SECRET_ENV = { MILLICAST_WEBHOOK_SECRET: 'bWlsbGljYXN0LXRlc3Qtc2VjcmV0LTAxMjM0NTY3ODk=' }

interface Setup {
  dir: string
  data: string
  config: string
}

/** Writes a config with an fs sink and an HTTP notifier pointing at `receiverUrl`. */
function setup(dir: string, receiverUrl: string, extra = '', routeTo = '[disk, hook]'): Setup {
  const data = join(dir, 'data')
  const config = join(dir, 'config.yaml')
  writeFileSync(
    config,
    `
sources:
  millicast: { path: /hooks/millicast, secrets: ["\${MILLICAST_WEBHOOK_SECRET}"] }
sinks:
  disk: { type: fs, dir: "${data}", key: "{type}/{id}.{ext}" }
notifiers:
  hook: { type: http, url: "${receiverUrl}/in", mode: original, secret: "whsec_ZHVyYWJpbGl0eS10ZXN0LWZvcndhcmQtc2VjcmV0" }
spool: { dir: "${join(dir, 'spool')}" }
routes:
  - to: ${routeTo}
${extra}`,
  )
  return { dir, data, config }
}

/** Distinct signed events: thumbnails of a few sizes and feed events. */
async function makeHooks(count: number, tag: string): Promise<SignedHook[]> {
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      i % 3 === 0
        ? signedJson({
            ...PAYLOADS.feedsStarted,
            timestamp: 1_700_000_000_000 + i,
            data: { ...PAYLOADS.feedsStarted.data, name: `${tag}-${i}` },
          })
        : signedThumbnail({ body: jpeg(`${tag}-${i}`, 5_000 + (i % 7) * 15_000), timestamp: 1_700_000_000_000 + i }),
    ),
  )
}

/** The bytes each accepted id must end up as, by id. */
type Accepted = Map<string, Buffer>

async function sendAll(
  url: string,
  hooks: SignedHook[],
  concurrency: number,
  onAccepted?: (count: number) => void,
): Promise<Accepted> {
  const accepted: Accepted = new Map()
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < hooks.length) {
        const hook = hooks[next++]!
        try {
          const response = await post(url, hook)
          if (response.status === 200) {
            accepted.set(((await response.json()) as { id: string }).id, Buffer.from(hook.body))
            onAccepted?.(accepted.size)
          }
        } catch {
          // the server died under us: this one was not acknowledged
        }
      }
    }),
  )
  return accepted
}

const idOfFile = (path: string) => path.split('/').at(-1)!.split('.')[0]!

describe.each<Runtime>(['node', 'bun', 'deno'])('kill -9 mid-burst on %s', (runtime) => {
  let receiver: Receiver
  const tmp = tempDir(`hookcast-kill-${runtime}-`)
  beforeAll(async () => {
    receiver = await startReceiver()
  })
  afterAll(async () => {
    await receiver.close()
    tmp.remove()
  })

  it('delivers every acknowledged event to every destination, exactly as sent', async () => {
    receiver.answer = () => ({ delayMs: 15 }) // slow enough that deliveries are under way at the kill
    const { data, config } = setup(tmp.path, receiver.url)
    const hooks = await makeHooks(240, runtime)
    let server: RunningServer = await startServer(runtime, config, SECRET_ENV)
    let killed: Promise<void> | undefined
    const accepted = await sendAll(`${server.url}/hooks/millicast`, hooks, 16, (count) => {
      if (count === 80) killed ??= server.kill()
    })
    await killed
    expect(accepted.size).toBeGreaterThanOrEqual(80)
    expect(accepted.size).toBeLessThan(hooks.length) // the kill really cut the burst short

    server = await startServer(runtime, config, SECRET_ENV)
    try {
      const received = () => new Set(receiver.requests.map((r) => (r.headers['x-millicast-feed-id'] ? sha(r) : sha(r))))
      await eventually(
        () => [...accepted.keys()].every((id) => listFiles(data).some((f) => idOfFile(f) === id)),
        30_000,
      )
      await eventually(
        () =>
          accepted.size <= received().size &&
          [...accepted.values()].every((body) => received().has(body.toString('base64'))),
        30_000,
      )
    } finally {
      await server.stop()
    }

    // Disk: each accepted event once, byte for byte; nothing torn or left half-written in view.
    const files = listFiles(data)
    for (const [id, body] of accepted) {
      const file = files.find((f) => idOfFile(f) === id)!
      expect(readFileSync(join(data, file)).equals(body), `disk copy of ${id}`).toBe(true)
    }
    expect(files.filter((f) => !/^(thumbnail|feeds)\/[0-9a-f]{24}\.(jpg|json)$/.test(f))).toEqual([]) // no temp file left in view
    expect(new Set(files.map(idOfFile)).size).toBe(files.length)
    // Receiver: every body it got is one that was sent; a repeat is possible only for deliveries under way at the
    // kill (at most the lane's concurrency of 8), never a re-delivery of everything.
    const sent = new Set(hooks.map((h) => Buffer.from(h.body).toString('base64')))
    const bodies = receiver.requests.map(sha)
    expect(bodies.every((b) => sent.has(b))).toBe(true)
    expect(bodies.length - new Set(bodies).size).toBeLessThanOrEqual(8)
  }, 120_000)
})

function sha(request: { body: Buffer }): string {
  return request.body.toString('base64')
}

describe('destination outages, rate limits, dead letters and a full spool (node)', () => {
  let receiver: Receiver
  let tmp: ReturnType<typeof tempDir>
  let server: RunningServer | undefined
  beforeAll(async () => {
    receiver = await startReceiver()
  })
  afterAll(async () => {
    await receiver.close()
  })
  afterEach(async () => {
    await server?.stop()
    server = undefined
    receiver.requests = []
    receiver.answer = () => ({})
    tmp.remove()
  })
  const fastRetries = `
delivery:
  retry: { schedule: [100ms, 200ms], jitter: 0 }
  circuit: { failures: 1000 }
`

  it('a failing destination gets everything once it recovers, and never delays the others', async () => {
    tmp = tempDir('hookcast-outage-')
    let httpHealthy = false
    receiver.answer = () => ({ status: httpHealthy ? 200 : 503 })
    const { data, config } = setup(tmp.path, receiver.url, fastRetries)
    writeFileSync(data, 'not a directory') // the disk sink cannot write until this is fixed
    server = await startServer('node', config, SECRET_ENV)
    const hooks = await makeHooks(20, 'outage')
    const accepted = await sendAll(`${server.url}/hooks/millicast`, hooks, 4)
    expect(accepted.size).toBe(20)
    await eventually(() => receiver.requests.length >= 40) // the notifier kept retrying meanwhile
    expect(statSync(data).isFile(), 'the disk sink could not write anything').toBe(true)

    rmSync(data) // disk fixed: everything lands there while the HTTP destination is still down
    await eventually(() => listFiles(data).length === 20)
    for (const [id, body] of accepted) {
      expect(
        readFileSync(join(data, listFiles(data).find((f) => idOfFile(f) === id)!)).equals(body),
        `disk copy of ${id}`,
      ).toBe(true)
    }

    httpHealthy = true
    const before = receiver.requests.length
    await eventually(
      () =>
        new Set(
          receiver.requests
            .slice(before)
            .filter(() => true)
            .map(sha),
        ).size === 20,
    )
    const delivered = new Set(receiver.requests.slice(before).map(sha))
    for (const body of accepted.values()) expect(delivered.has(body.toString('base64'))).toBe(true)
  }, 60_000)

  it('waits as long as Retry-After says, and replays a dead letter from the CLI', async () => {
    tmp = tempDir('hookcast-429-')
    const { config } = setup(tmp.path, receiver.url, fastRetries, '[hook]')
    let answers = [{ status: 429, headers: { 'retry-after': '2' } }, { status: 200 }]
    receiver.answer = () => answers.shift() ?? { status: 200 }
    server = await startServer('node', config, SECRET_ENV)
    const hookUrl = `${server.url}/hooks/millicast`
    expect((await post(hookUrl, await signedJson(PAYLOADS.feedsStarted))).status).toBe(200)
    await eventually(() => receiver.requests.length === 2)
    expect(receiver.requests[1]!.at - receiver.requests[0]!.at).toBeGreaterThanOrEqual(2_000)

    // A permanent refusal goes to dead letters at once...
    answers = [{ status: 400 }]
    receiver.requests = []
    const refused = await signedJson(PAYLOADS.feedsEnded)
    expect((await post(hookUrl, refused)).status).toBe(200)
    await eventually(() => readdirSync(join(tmp.path, 'spool', 'dead')).some((f) => f.endsWith('.dl')))
    await sleep(500)
    expect(receiver.requests).toHaveLength(1)

    // ...and `hookcast replay` delivers it once the receiver is fixed.
    const cli = spawnSync(process.execPath, ['bin/hookcast.js', 'replay', '--all', '--config', config], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, ...SECRET_ENV },
    })
    expect(cli.status).toBe(0)
    expect(cli.stdout).toContain('queued 1 dead letter for replay')
    await eventually(() => receiver.requests.length === 2)
    expect(receiver.requests[1]!.body.equals(Buffer.from(refused.body))).toBe(true)
    expect(readdirSync(join(tmp.path, 'spool', 'dead')).filter((f) => f.endsWith('.dl'))).toEqual([])
  }, 60_000)

  it('answers 503 when the spool is full, keeps nothing of that event, and still delivers the rest', async () => {
    tmp = tempDir('hookcast-full-')
    let healthy = false
    receiver.answer = () => ({ status: healthy ? 200 : 503 })
    const { config } = setup(tmp.path, receiver.url, `${fastRetries}\n`, '[hook]')
    writeFileSync(config, readFileSync(config, 'utf8').replace('spool: {', 'spool: { maxBytes: 250KB, '))
    server = await startServer('node', config, SECRET_ENV)
    const hookUrl = `${server.url}/hooks/millicast`
    const segments = join(tmp.path, 'spool', 'segments')
    const spoolHolds = (marker: string) =>
      readdirSync(segments).some((f) => readFileSync(join(segments, f)).includes(marker))

    const hooks = await Promise.all(
      [0, 1, 2].map((i) => signedThumbnail({ body: jpeg(`full-${i}`, 100_000), timestamp: 1_700_000_000_000 + i })),
    )
    expect((await post(hookUrl, hooks[0]!)).status).toBe(200)
    expect((await post(hookUrl, hooks[1]!)).status).toBe(200)
    expect(spoolHolds('full-1')).toBe(true)
    const full = await post(hookUrl, hooks[2]!)
    expect(full.status).toBe(503)
    expect(await full.json()).toMatchObject({ error: 'spool_unavailable' })
    expect(spoolHolds('full-2')).toBe(false)

    expect(await server.stop()).toBe(0)
    healthy = true
    receiver.requests = []
    server = await startServer('node', config, SECRET_ENV)
    await eventually(() => receiver.requests.length >= 2)
    await sleep(500)
    expect(receiver.requests.map(sha).sort()).toEqual(
      [hooks[0]!, hooks[1]!].map((h) => Buffer.from(h.body).toString('base64')).sort(),
    )
  }, 60_000)

  it('answers 503 when the disk is full, and keeps nothing of that event', async (context) => {
    tmp = tempDir('hookcast-diskfull-')
    const spoolDir = join(tmp.path, 'spool')
    mkdirSync(spoolDir)
    // A 400 KiB file system of its own, so the disk really fills up (needs root, as CI has).
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=400k', 'tmpfs', spoolDir])
    if (mounted.status !== 0) return context.skip(`cannot mount a small tmpfs here: ${mounted.stderr}`)
    try {
      let healthy = false
      receiver.answer = () => ({ status: healthy ? 200 : 503 })
      const { config } = setup(
        tmp.path,
        receiver.url,
        `${fastRetries}\nstreams: { dir: "${join(tmp.path, 'streams')}" }\n`,
        '[hook]',
      )
      server = await startServer('node', config, SECRET_ENV)
      const hookUrl = `${server.url}/hooks/millicast`
      const hooks = await Promise.all(
        [0, 1, 2, 3, 4, 5].map((i) =>
          signedThumbnail({ body: jpeg(`disk-${i}`, 100_000), timestamp: 1_700_000_000_000 + i }),
        ),
      )
      const statuses: number[] = []
      for (const hook of hooks) statuses.push((await post(hookUrl, hook)).status)
      const accepted = statuses.filter((status) => status === 200).length
      expect(accepted).toBeGreaterThanOrEqual(2)
      expect(statuses.slice(accepted).every((status) => status === 503)).toBe(true) // full means full, not half-written
      const segments = join(spoolDir, 'segments')
      const spoolHolds = (marker: string) =>
        readdirSync(segments).some((f) => readFileSync(join(segments, f)).includes(marker))
      expect(spoolHolds(`disk-${accepted - 1}`)).toBe(true)
      expect(spoolHolds(`disk-${accepted}`)).toBe(false)

      await server.stop()
      healthy = true
      receiver.requests = []
      server = await startServer('node', config, SECRET_ENV)
      await eventually(() => receiver.requests.length >= accepted)
      await sleep(500)
      expect(receiver.requests.map(sha).sort()).toEqual(
        hooks
          .slice(0, accepted)
          .map((h) => Buffer.from(h.body).toString('base64'))
          .sort(),
      )
    } finally {
      await server?.stop()
      server = undefined
      spawnSync('umount', [spoolDir])
    }
  }, 60_000)
})
