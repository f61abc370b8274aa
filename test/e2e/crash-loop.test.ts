/**
 * Crash loop: the real gateway under steady signed load, killed with SIGKILL at random moments and restarted at
 * once each time, as a supervisor would; then drained. Every event answered 200 must be at the fs sink byte for
 * byte, once, with nothing left pending in the spool and nothing in the dead letters.
 *
 * - Load: 16 senders, thumbnails (some over the spool's body cache, a few of several MB) and every JSON kind, with
 *   feeds starting and ending on a few streams for the stream tracker (itself a destination fed from the spool).
 * - Destinations: the fs sink (key with {id}: one object per event), the tracker, and an HTTP notifier whose
 *   receiver is slow, now and then answers 503, refuses some events several times and has outages of a few
 *   seconds, so a backlog of retries is pending at every kill and the spool copies stragglers forward.
 * - Kills: after a random uptime; the restart begins as soon as the death is seen (after-exit), in the same instant
 *   as the kill, before the old process is reaped (at-once), or at once and is itself killed during its start or
 *   recovery (during-start). A failed start is retried like systemd's Restart=always, RestartSec=100ms, and counted:
 *   any failed start fails the test.
 * - After each restart: the tracker's state (README: it survives restarts) serves every thumbnail it lists, and a
 *   stream that had a thumbnail still has one.
 * - After the drain: /api/status (nothing pending, no dead letters), the spool's files, a clean stop and a start
 *   from the files alone, the sink's objects (byte for byte, one per event, nothing unsent), the receiver's bodies
 *   (every accepted event at least once), a `stream/live` object for every stream with an accepted `started`, no
 *   error line and no retry of the disk sink or the tracker in the servers' logs.
 *
 * Reproduce a run with CRASH_LOOP_SEED=<seed printed by the failing run> (kill moments, restart modes, outages and
 * payloads follow from it; request timing does not). CRASH_LOOP_KILLS and CRASH_LOOP_RUNTIMES (comma separated)
 * narrow a run; CRASH_LOOP_KEEP=1 keeps a failed run's directory (config, spool, sink).
 */
import { afterAll, describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { ROOT, RUNTIMES, type Runtime, type RunningServer } from '../support/runtimes.ts'
import { spawnServer, type SpawnedServer } from '../support/spawn-server.ts'
import { jpeg, PAYLOADS, SECRET } from '../support/hooks.ts'
import { listFiles, tempDir } from '../support/files.ts'
import { createPrng, deriveSeed, seedFrom, type Prng } from '../support/prng.ts'
import { sleep } from '../support/wait.ts'
import { sign } from '../../src/verify/verifier.ts'

const SEED = seedFrom(process.env.CRASH_LOOP_SEED)
const KILLS = Number(process.env.CRASH_LOOP_KILLS ?? 12)
const ONLY = process.env.CRASH_LOOP_RUNTIMES?.split(',').map((r) => r.trim()) ?? RUNTIMES
const KEEP = process.env.CRASH_LOOP_KEEP === '1'
const SENDERS = 16
/**
 * The senders send in rounds, one request each every ROUND_MS (at most 320 a second): steady load, the same on every
 * runtime, that a 2-core CI machine can drain in time, with up to 16 requests in flight when a kill lands.
 */
const ROUND_MS = 50
/** Uptime before each kill, from "listening". Short ones hit the recovery of the previous crash's backlog. */
const UPTIME_MS: [number, number] = [50, 3_500]
/** Load after the last restart, before the senders stop. */
const FINAL_LOAD_MS = 2_000
/** A `during-start` kill hits the replacement this long after it was spawned: lock, recovery, or just listening. */
const START_KILL_MS: [number, number] = [0, 1_200]
const DRAIN_MS = 40_000
/** A supervisor retrying a failed start (systemd Restart=always, RestartSec=100ms; StartLimitBurst-like cap). */
const RESTART_SEC_MS = 100
const START_ATTEMPTS = 10
const FLAP_WINDOW_MS = 1_000
/** Attempts the receiver refuses for its "sticky" events (with the retry schedule below: about 3 s in the spool). */
const STICKY_FAILURES = 3
/**
 * The share of answered hooks that may be 503s. A 503 loses nothing (the platform is told the event was not kept),
 * and every other check counts only what was accepted, so without this bound a gateway refusing everything would
 * pass. Here it refuses only when it cannot take an event: the spool (1 GiB) and the body bytes in flight (64 MiB,
 * at most 16 x 2.5 MB here) are far from their limits, so nearly every answer must be a 200.
 */
const MAX_REFUSED_SHARE = 0.05
const ADMIN_TOKEN = 'crash-loop-admin-token-0123456789'
const STREAMS = ['CRASH/loop-0', 'CRASH/loop-1', 'CRASH/loop-2', 'CRASH/loop-3']
/** Payload timestamps: fixed, so the payloads follow from the seed alone; one distinct value per event. */
const BASE_TS = 1_760_000_000_000
const ENV = { MILLICAST_WEBHOOK_SECRET: SECRET, HOOKCAST_ADMIN_TOKEN: ADMIN_TOKEN }

console.log(`crash-loop: seed=${SEED} (reproduce with CRASH_LOOP_SEED=${SEED}), kills=${KILLS} per runtime`)

type Kind = 'thumbnail' | 'feeds' | 'recordings' | 'media' | 'transcoder' | 'viewerConnection' | 'future'

interface Hook {
  n: number
  kind: Kind
  event: string
  streamId?: string
  body: Uint8Array
  headers: Record<string, string>
}

/** The load: thumbnails and every JSON kind, with feeds starting and ending on a few streams for the tracker. */
function createLoad(seed: number) {
  const rng = createPrng(deriveSeed(seed, 'payloads'))
  const streams = STREAMS.map((streamId) => ({ streamId, active: [] as string[], last: uuid(rng) }))
  let n = 0

  function json(kind: Kind, payload: unknown): Omit<Hook, 'headers'> & { streamId?: string } {
    const body = new TextEncoder().encode(JSON.stringify(payload))
    return { n: 0, kind, event: (payload as { event: string }).event, body }
  }

  /** Takes the next event of the sequence (synchronously, so the sequence follows from the seed). */
  function take(): Omit<Hook, 'headers'> & { thumbnail?: { feedId: string; streamId: string; timestamp: number } } {
    const i = n++
    const ts = BASE_TS + i * 37
    const kind = rng.weighted<Kind>({
      thumbnail: 40,
      feeds: 18,
      recordings: 9,
      media: 9,
      transcoder: 8,
      viewerConnection: 10,
      future: 6,
    })
    const stream = rng.pick(streams)
    const [account, name] = stream.streamId.split('/') as [string, string]
    let hook: Omit<Hook, 'headers'> & { thumbnail?: { feedId: string; streamId: string; timestamp: number } }
    switch (kind) {
      case 'thumbnail': {
        // Mostly small; some over the spool's 256 KiB body cache (read back at delivery); a few of full resolution,
        // so a kill can land in the middle of writing one (a torn record for recovery to cut off).
        const roll = rng.next()
        const size =
          roll < 0.02 ? rng.int(1_000_000, 2_500_000) : roll < 0.12 ? rng.int(260_000, 420_000) : rng.int(2_000, 40_000)
        const feedId = stream.active.length > 0 ? rng.pick(stream.active) : stream.last
        hook = {
          n: i,
          kind,
          event: 'thumbnail',
          streamId: stream.streamId,
          body: jpeg(`crash-loop-${seed}-${i}`, size),
          thumbnail: { feedId, streamId: stream.streamId, timestamp: ts },
        }
        break
      }
      case 'feeds': {
        if (stream.active.length === 0 || (stream.active.length < 3 && rng.next() < 0.5)) {
          const feedId = uuid(rng)
          stream.active.push(feedId)
          stream.last = feedId
          hook = json(kind, {
            ...PAYLOADS.feedsStarted,
            timestamp: ts,
            data: { feedId, accountId: account, name, streamId: stream.streamId, started: ts - 100, active: true },
          })
        } else {
          const feedId = stream.active.splice(rng.int(0, stream.active.length - 1), 1)[0]!
          hook = json(kind, {
            ...PAYLOADS.feedsEnded,
            timestamp: ts,
            data: { feedId, accountId: account, name, streamId: stream.streamId, active: false, ended: ts - 100 },
          })
        }
        hook.streamId = stream.streamId
        break
      }
      case 'recordings':
        hook = json(kind, {
          ...PAYLOADS.recordingsCompleted,
          timestamp: ts,
          data: { ...PAYLOADS.recordingsCompleted.data, recordFileId: i, streamName: name, recordedOn: ts - 5_000 },
        })
        break
      case 'media':
        hook = json(kind, {
          ...PAYLOADS.mediaCompleted,
          timestamp: ts,
          data: {
            ...PAYLOADS.mediaCompleted.data,
            mediaAssetId: rng.hex(32),
            streamName: name,
            streamId: stream.streamId,
            startTime: ts - 60_000,
          },
        })
        break
      case 'transcoder':
        hook = json(kind, {
          ...PAYLOADS.transcoderActive,
          event: rng.pick(['ACTIVE', 'STOPPED', 'PENDING']),
          timestamp: ts,
          data: { ...PAYLOADS.transcoderActive.data, transcoderId: uuid(rng) },
        })
        break
      case 'viewerConnection':
        hook = json(kind, {
          ...PAYLOADS.viewerAttempt,
          event: rng.pick(['ViewerAttempt', 'ViewerConnected', 'ViewerDisconnected']),
          timestamp: ts,
          data: { name, accountId: account, streamId: stream.streamId },
        })
        break
      case 'future':
        // A kind the platform may add later: accepted and routed like any other.
        hook = json(kind, {
          type: 'clips',
          event: 'ready',
          timestamp: ts,
          data: { clipId: rng.hex(16), streamId: stream.streamId },
        })
        break
    }
    hook.n = i
    return hook
  }

  return {
    async next(): Promise<Hook> {
      const { thumbnail, ...hook } = take()
      const signature = await sign(hook.body, SECRET)
      const headers: Record<string, string> = thumbnail
        ? {
            'content-type': 'image/jpeg',
            'x-millicast-signature': signature,
            'x-millicast-feed-id': thumbnail.feedId,
            'x-millicast-stream-id': thumbnail.streamId,
            'x-millicast-timestamp': String(thumbnail.timestamp),
          }
        : { 'content-type': 'application/json', 'x-millicast-signature': signature }
      return { ...hook, headers }
    },
  }
}

function uuid(rng: Prng): string {
  return `${rng.hex(8)}-${rng.hex(4)}-4${rng.hex(3)}-a${rng.hex(3)}-${rng.hex(12)}`
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

interface SentEvent {
  n: number
  kind: Kind
  event: string
  streamId?: string
  sha: string
  size: number
  generation?: number
}

type KillMode = 'after-exit' | 'at-once' | 'during-start'

interface Report {
  runtime: Runtime
  seed: number
  kills: number
  killModes: Record<KillMode, number>
  /** Starts killed on purpose during their start (during-start), and how many of those before they listened. */
  killedStarting: { total: number; beforeListening: number }
  restarts: number
  failedStarts: string[]
  sent: number
  accepted: number
  statuses: Record<string, number>
  sendErrors: number
  delivered: number
  missing: number
  corrupt: number
  duplicates: number
  unacknowledgedDelivered: number
  notifier: { received: number; missing: number; repeats: number; answered503: number }
  streamEvents: { live: number; ended: number }
  retries: number
  /** Outages of the HTTP notifier's receiver. */
  outages: number
  drainMs: number
  totalMs: number
  problems: string[]
}

/**
 * A webhook receiver for the HTTP notifier that keeps only a hash of each body (the load is too large to hold),
 * answers slowly and now and then 503, so deliveries wait for retries while the gateway is killed. About one event
 * in 256 is refused its first STICKY_FAILURES attempts: those wait seconds in the spool's oldest segments, which the
 * spool then copies forward (a segment is deleted only once nothing in it is pending).
 */
async function startHashingReceiver(rng: Prng) {
  const received = new Map<string, number>()
  const refused = new Map<string, number>()
  let answered503 = 0
  let downUntil = 0
  const server = createServer((req, res) => {
    const hash = createHash('sha256')
    req.on('data', (chunk: Buffer) => hash.update(chunk))
    req.on('end', () => {
      const sha = hash.digest('hex')
      const sticky = sha.startsWith('00') && (refused.get(sha) ?? 0) < STICKY_FAILURES
      const fail = sticky || Date.now() < downUntil || rng.next() < 0.05
      setTimeout(
        () => {
          if (fail) {
            answered503++
            if (sticky) refused.set(sha, (refused.get(sha) ?? 0) + 1)
            res.writeHead(503).end()
            return
          }
          received.set(sha, (received.get(sha) ?? 0) + 1)
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}')
        },
        rng.int(0, 30),
      )
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    answered503: () => answered503,
    /** An outage: every request is answered 503 for `ms`; the backlog then waits in the spool, and drains after. */
    down(ms: number) {
      downUntil = Date.now() + ms
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

describe.each<Runtime>(RUNTIMES.filter((runtime) => ONLY.includes(runtime)))('crash loop on %s', (runtime) => {
  let tmp: ReturnType<typeof tempDir> | undefined // made by the test itself, so a filtered-out runtime leaves none
  const spawned: SpawnedServer[] = []
  let receiver: Awaited<ReturnType<typeof startHashingReceiver>> | undefined
  let passed = false

  afterAll(async () => {
    await Promise.all(spawned.map((server) => server.kill()))
    await receiver?.close()
    if (!tmp) return
    if (!passed && KEEP) console.log(`crash-loop ${runtime}: kept ${tmp.path} for inspection`)
    else tmp.remove() // hundreds of MB: kept only with CRASH_LOOP_KEEP=1
  })

  it('keeps every accepted event through repeated kill -9 and immediate restarts', async () => {
    const started = Date.now()
    tmp = tempDir(`hookcast-crash-loop-${runtime}-`)
    const runtimeSeed = deriveSeed(SEED, runtime)
    receiver = await startHashingReceiver(createPrng(deriveSeed(runtimeSeed, 'receiver')))
    const data = join(tmp.path, 'data')
    const spoolDir = join(tmp.path, 'spool')
    const config = join(tmp.path, 'config.yaml')
    // Small segments, so the spool rotates, deletes and copies forward segments all along the run.
    writeFileSync(
      config,
      `
sources:
  millicast: { path: /hooks/millicast, secrets: ["\${MILLICAST_WEBHOOK_SECRET}"] }
sinks:
  disk: { type: fs, dir: "${data}", key: "{type}/{id}.{ext}" }
notifiers:
  hook: { type: http, url: "${receiver.url}/in", mode: original, secret: "whsec_${Buffer.from('crash-loop-notifier-secret-0123').toString('base64')}" }
spool: { dir: "${spoolDir}", segmentBytes: 1MiB }
delivery:
  retry: { schedule: [200ms, 1s, 2s] }
  circuit: { failures: 200, probeAfter: 1s, maxProbeAfter: 2s }
  destinations: { hook: { concurrency: 16 } }
# No delayed checks but the flap window's (silence, the wait for a first thumbnail, quiet): the spool drains.
streams: { flapWindow: ${FLAP_WINDOW_MS}ms, endAfterSilence: false, thumbnailWait: 0s, health: false }
admin: { token: "\${HOOKCAST_ADMIN_TOKEN}" }
routes:
  - to: [disk, hook]
  - when: { type: stream }
    to: [disk]
`,
    )
    const kills = createPrng(deriveSeed(runtimeSeed, 'kills'))
    const plan = Array.from({ length: KILLS }, () => ({
      uptimeMs: Math.round(kills.between(...UPTIME_MS)),
      mode: kills.weighted<KillMode>({ 'after-exit': 4, 'at-once': 4, 'during-start': 2 }),
      startKillMs: kills.int(...START_KILL_MS),
      /** A receiver outage during this uptime (0: none): when it ends, a backlog drains while the spool copies it forward. */
      outage: kills.next() < 0.35 ? { afterMs: kills.int(0, 1_500), ms: kills.int(1_000, 3_500) } : undefined,
    }))
    const load = createLoad(runtimeSeed)
    const report: Report = {
      runtime,
      seed: SEED,
      kills: 0,
      killModes: { 'after-exit': 0, 'at-once': 0, 'during-start': 0 },
      killedStarting: { total: 0, beforeListening: 0 },
      restarts: 0,
      failedStarts: [],
      sent: 0,
      accepted: 0,
      statuses: {},
      sendErrors: 0,
      delivered: 0,
      missing: 0,
      corrupt: 0,
      duplicates: 0,
      unacknowledgedDelivered: 0,
      notifier: { received: 0, missing: 0, repeats: 0, answered503: 0 },
      streamEvents: { live: 0, ended: 0 },
      retries: 0,
      outages: 0,
      drainMs: 0,
      totalMs: 0,
      problems: [],
    }
    const { problems } = report
    const sentBySha = new Map<string, SentEvent>()
    const accepted = new Map<string, SentEvent>()

    const spawn = () => {
      const server = spawnServer(runtime, config, ENV)
      spawned.push(server)
      return server
    }

    /** Starts the gateway like a supervisor: at once, and again RESTART_SEC_MS after each failed start. */
    async function supervisedStart(): Promise<RunningServer> {
      for (let attempt = 1; ; attempt++) {
        const server = spawn()
        try {
          return await server.ready
        } catch (error) {
          await server.kill()
          const message = String((error as Error).message)
          const reason =
            message.split('\n').find((line) => /in use|cannot start|rror/.test(line) && !line.startsWith(runtime)) ??
            message.split('\n')[0]!
          report.failedStarts.push(`pid ${server.process.pid}: ${reason.slice(0, 300)}`)
          if (attempt >= START_ATTEMPTS) throw new Error(`gave up after ${attempt} failed starts in a row: ${reason}`)
          await sleep(RESTART_SEC_MS)
        }
      }
    }

    const admin = async <T>(server: RunningServer, path: string): Promise<T> => {
      const response = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
      if (!response.ok) throw new Error(`${path}: ${response.status}`)
      return (await response.json()) as T
    }

    interface StreamView {
      streamId: string
      status: string
      feeds: number
      latestThumbnail: { eventId: string; url: string } | null
    }
    /** Streams whose state held a latest thumbnail at the previous check (README: the state survives restarts). */
    const hadThumbnail = new Map<string, string>()
    /**
     * The tracker's state after a restart: a thumbnail it lists must be there to serve, and a stream that had one
     * before the crash still has one (its latest may be a second older, never none).
     */
    async function checkThumbnails(server: RunningServer, restart: number): Promise<void> {
      for (let round = 0; round < 3; round++) {
        const { streams } = await admin<{ streams: StreamView[] }>(server, '/api/streams')
        const broken: string[] = []
        if (round === 0) {
          for (const stream of streams) {
            const before = hadThumbnail.get(stream.streamId)
            if (before && !stream.latestThumbnail) {
              problems.push(
                `after restart ${restart} stream ${stream.streamId} has no thumbnail any more (it had ${before} at an earlier restart)`,
              )
              hadThumbnail.delete(stream.streamId)
            }
            if (stream.latestThumbnail) hadThumbnail.set(stream.streamId, stream.latestThumbnail.eventId)
          }
        }
        for (const stream of streams) {
          if (!stream.latestThumbnail) continue
          const response = await fetch(`${server.url}${stream.latestThumbnail.url}`, {
            headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
          })
          await response.arrayBuffer()
          if (response.status !== 200)
            broken.push(`${stream.streamId} lists ${stream.latestThumbnail.eventId}, served ${response.status}`)
        }
        if (broken.length === 0) return
        if (round === 2)
          problems.push(
            `after restart ${restart} the stream state lists thumbnails it cannot serve: ${broken.join('; ')}`,
          )
        await sleep(50) // a newer thumbnail may have replaced it between the two requests: look again
      }
    }

    // The current server, for the senders; undefined while it is down.
    let live: RunningServer | undefined
    let generation = 0
    let stopped = false
    const wake: Array<() => void> = []
    const setLive = (server: RunningServer | undefined) => {
      live = server
      if (server) generation++
      for (const resolve of wake.splice(0)) resolve()
    }
    const current = async (): Promise<RunningServer | undefined> => {
      while (!live && !stopped) await new Promise<void>((resolve) => wake.push(resolve))
      return live
    }

    // Rounds: every sender waits for the next one (a round it is too late for is skipped).
    const roundsFrom = Date.now()
    const slot = () => sleep(ROUND_MS - ((Date.now() - roundsFrom) % ROUND_MS))

    async function sender(): Promise<void> {
      while (!stopped) {
        await slot()
        const server = await current()
        if (!server) return
        const gen = generation
        const hook = await load.next()
        const event: SentEvent = {
          n: hook.n,
          kind: hook.kind,
          event: hook.event,
          ...(hook.streamId ? { streamId: hook.streamId } : {}),
          sha: sha256(hook.body),
          size: hook.body.byteLength,
        }
        sentBySha.set(event.sha, event)
        report.sent++
        try {
          const response = await fetch(`${server.url}/hooks/millicast`, {
            method: 'POST',
            headers: hook.headers,
            body: hook.body as Uint8Array<ArrayBuffer>,
            signal: AbortSignal.timeout(15_000),
          })
          const text = await response.text()
          report.statuses[response.status] = (report.statuses[response.status] ?? 0) + 1
          if (response.status === 200) {
            const id = (JSON.parse(text) as { id: string }).id
            if (accepted.has(id)) problems.push(`two events answered with the same id ${id}`)
            accepted.set(id, { ...event, generation: gen })
          } else if (response.status !== 503) {
            problems.push(`unexpected ${response.status} for event #${hook.n} (${hook.kind}): ${text.slice(0, 200)}`)
          }
        } catch {
          report.sendErrors++ // the server died under this request: it was not acknowledged
        }
      }
    }

    let server = await supervisedStart()
    setLive(server)
    const senders = Array.from({ length: SENDERS }, () => sender())
    try {
      for (const [index, step] of plan.entries()) {
        if (step.outage) {
          const { afterMs, ms } = step.outage
          setTimeout(() => receiver!.down(ms), afterMs)
          report.outages++
        }
        await sleep(step.uptimeMs)
        setLive(undefined)
        const dead = server.kill() // SIGKILL is sent at once; the promise waits for the exit
        report.kills++
        report.killModes[step.mode]++
        if (step.mode === 'after-exit') {
          await dead // the supervisor restarts as soon as it sees the death
        } else if (step.mode === 'during-start') {
          // Restarted at once, and that start crashes too, at a random moment of its start or recovery.
          const starting = spawn()
          let listening = false
          void starting.ready.then(
            () => {
              listening = true
            },
            () => {},
          )
          await Promise.race([sleep(step.startKillMs), starting.exited])
          if (starting.process.exitCode !== null) {
            report.failedStarts.push(
              `pid ${starting.process.pid}: exited with ${starting.process.exitCode} before the planned kill: ${starting.logs.find((l) => /in use|cannot start|rror/.test(l)) ?? starting.logs.at(-1)}`,
            )
          } else {
            await starting.kill()
            report.kills++
            report.killedStarting.total++
            if (!listening) report.killedStarting.beforeListening++
          }
        }
        // else at-once: the restart begins in the same instant as the kill, before the old process is reaped
        server = await supervisedStart()
        report.restarts++
        await dead
        await checkThumbnails(server, index + 1)
        setLive(server)
      }
      await sleep(FINAL_LOAD_MS)
    } finally {
      stopped = true
      setLive(undefined)
      await Promise.all(senders)
    }
    report.accepted = accepted.size

    // Drain: nothing pending, every lane idle; again after the tracker's flap window (its `ended` events come then).
    interface Status {
      spool: {
        pendingEvents: number
        pendingDeliveries: number
        deadLetters: number
        bytes: number
        oldestPendingAgeMs: number
      }
      destinations: Array<{ destination: string; pending: number; inFlight: number; circuit: string }>
    }
    const idle = (status: Status) =>
      status.spool.pendingDeliveries === 0 &&
      status.spool.pendingEvents === 0 &&
      status.destinations.every((d) => d.pending === 0 && d.inFlight === 0)
    const drainStart = Date.now()
    // Events pending with no delivery pending never drain: waiting longer for them would only slow the report.
    const deliveriesDone = (status: Status) =>
      status.spool.pendingDeliveries === 0 && status.destinations.every((d) => d.pending === 0 && d.inFlight === 0)
    const waitIdle = async (until: number): Promise<Status> => {
      let status = await admin<Status>(server, '/api/status')
      let doneSince = Infinity
      while (!idle(status) && Date.now() < until && Date.now() - doneSince < 5_000) {
        await sleep(200)
        status = await admin<Status>(server, '/api/status')
        doneSince = deliveriesDone(status) ? Math.min(doneSince, Date.now()) : Infinity
      }
      return status
    }
    let status = await waitIdle(drainStart + DRAIN_MS)
    if (idle(status)) {
      await sleep(FLAP_WINDOW_MS + 1_500)
      status = await waitIdle(drainStart + DRAIN_MS + FLAP_WINDOW_MS + 1_500)
    }
    report.drainMs = Date.now() - drainStart
    if (!idle(status))
      problems.push(`not drained after ${Math.round(report.drainMs / 1000)} s: ${JSON.stringify(status)}`)
    if (status.spool.deadLetters > 0) {
      const { deadLetters } = await admin<{
        deadLetters: Array<{ eventId: string; destination: string; attempts: Array<{ error: string }> }>
      }>(server, '/api/dead-letters')
      problems.push(
        `${deadLetters.length} dead letters, e.g. ${JSON.stringify(deadLetters.slice(0, 3).map((d) => ({ id: d.eventId, destination: d.destination, errors: d.attempts.map((a) => a.error) })))}`,
      )
    }
    const streams = await admin<{ streams: StreamView[] }>(server, '/api/streams')
    await checkThumbnails(server, report.restarts)
    const leftoverTemps = listFiles(join(data, '.hookcast-tmp'))

    // A graceful stop, then a start from the files alone: the spool on disk must hold nothing pending either.
    const exitCode = await server.stop()
    if (exitCode !== 0) problems.push(`SIGTERM after the drain exited with ${exitCode}`)
    const segmentsAfterDrain = readdirSync(join(spoolDir, 'segments'))
    if (segmentsAfterDrain.length > 1)
      problems.push(`spool segments left after the drain: ${segmentsAfterDrain.join(', ')}`)
    const deadFiles = readdirSync(join(spoolDir, 'dead'))
    if (deadFiles.length > 0) problems.push(`files in spool/dead: ${deadFiles.slice(0, 5).join(', ')}`)
    const inboxFiles = readdirSync(join(spoolDir, 'inbox'))
    if (inboxFiles.length > 0) problems.push(`files in spool/inbox: ${inboxFiles.slice(0, 5).join(', ')}`)
    const failedBefore = report.failedStarts.length
    server = await supervisedStart()
    if (report.failedStarts.length > failedBefore)
      problems.push(`a start after a clean stop failed: ${report.failedStarts.at(-1)}`)
    try {
      const reopened = await admin<Status>(server, '/api/status')
      if (reopened.spool.pendingDeliveries > 0 || reopened.spool.pendingEvents > 0 || reopened.spool.deadLetters > 0) {
        problems.push(
          `after a clean restart the spool still holds ${reopened.spool.pendingEvents} pending events, ${reopened.spool.pendingDeliveries} pending deliveries and ${reopened.spool.deadLetters} dead letters`,
        )
      }
    } finally {
      await server.stop()
    }
    if (leftoverTemps.length > 0) {
      // Not an acceptance condition by itself (the next start sweeps them), but worth seeing in the report.
      console.log(
        `crash-loop ${runtime}: ${leftoverTemps.length} temp files of killed processes were in the fs sink's .hookcast-tmp after the drain`,
      )
    }
    const tempsAfterRestart = listFiles(join(data, '.hookcast-tmp'))
    if (tempsAfterRestart.length > 0)
      problems.push(`temp files never swept from the fs sink: ${tempsAfterRestart.slice(0, 5).join(', ')}`)

    // The sink: every accepted event once, byte for byte; nothing that was not sent; the tracker's own events.
    const files = listFiles(data).filter((path) => !path.startsWith('.hookcast-tmp/'))
    const byId = new Map<string, string[]>()
    for (const path of files) {
      const match = /^([A-Za-z]+)\/([0-9a-f]{24})\.(jpg|json)$/.exec(path)
      if (!match) {
        problems.push(`unexpected object in the sink: ${path}`)
        continue
      }
      byId.set(match[2]!, [...(byId.get(match[2]!) ?? []), path])
    }
    const missing: string[] = []
    for (const [id, event] of accepted) {
      const paths = byId.get(id)
      if (!paths) {
        missing.push(id)
        continue
      }
      if (paths.length > 1) report.duplicates++
      const bytes = readFileSync(join(data, paths[0]!))
      if (bytes.byteLength !== event.size || sha256(bytes) !== event.sha) {
        report.corrupt++
        if (report.corrupt <= 5)
          problems.push(
            `${paths[0]} (event #${event.n}, ${event.kind}) differs from what was sent: ${bytes.byteLength} bytes, ${event.size} sent`,
          )
      } else {
        report.delivered++
      }
    }
    report.missing = missing.length
    const streamsLive = new Set<string>()
    for (const [id, paths] of byId) {
      if (paths.length > 1) problems.push(`more than one object for event ${id}: ${paths.join(', ')}`)
      if (accepted.has(id)) continue
      const bytes = readFileSync(join(data, paths[0]!))
      if (paths[0]!.startsWith('stream/')) {
        const lifecycle = JSON.parse(bytes.toString('utf8')) as { event: string; data: { streamId: string } }
        if (lifecycle.event === 'live') {
          report.streamEvents.live++
          streamsLive.add(lifecycle.data.streamId)
        } else {
          report.streamEvents.ended++
        }
      } else if (sentBySha.has(sha256(bytes))) {
        report.unacknowledgedDelivered++ // persisted, then killed before the answer went out: delivered all the same
      } else {
        problems.push(`object ${paths[0]} matches no event that was sent`)
      }
    }
    // The tracker is fed from the spool: a stream with an accepted `started` has had a session, so a `live` event.
    for (const streamId of new Set(
      [...accepted.values()].filter((e) => e.kind === 'feeds' && e.event === 'started').map((e) => e.streamId!),
    )) {
      if (!streamsLive.has(streamId))
        problems.push(`stream ${streamId} had an accepted feeds/started but no stream/live event reached the sink`)
    }
    // The HTTP notifier (original mode: the exact bytes): every accepted event answered 2xx at least once.
    report.notifier.answered503 = receiver.answered503()
    for (const [sha, count] of receiver.received) {
      report.notifier.received++
      report.notifier.repeats += count - 1
      if (!sentBySha.has(sha)) problems.push(`the notifier's receiver got a body that was never sent (sha256 ${sha})`)
    }
    const notNotified = [...accepted.entries()].filter(([, event]) => !receiver!.received.has(event.sha))
    report.notifier.missing = notNotified.length
    if (notNotified.length > 0)
      problems.push(
        `${notNotified.length} accepted events never reached the HTTP notifier, e.g. ${notNotified
          .slice(0, 3)
          .map(([id, e]) => `${id} (#${e.n} ${e.kind})`)
          .join(', ')}`,
      )
    if (missing.length > 0) {
      problems.push(`${missing.length} accepted events are not at the sink`)
      for (const id of missing.slice(0, 5)) {
        const event = accepted.get(id)!
        const trail = spawned.flatMap((s, index) =>
          s.logs
            .filter((line) => line.includes(id))
            .map((line) => `  [start ${index + 1}, pid ${s.process.pid}] ${line}`),
        )
        problems.push(
          `missing ${id}: event #${event.n} ${event.kind}/${event.event}, ${event.size} bytes, accepted by start ${event.generation}; its log lines:\n${trail.join('\n') || '  (none)'}`,
        )
      }
    }
    if (report.duplicates > 0) problems.push(`${report.duplicates} accepted events have more than one object`)
    // Most hooks accepted: the checks above count only what was, so a gateway refusing or dropping hooks passes them.
    const answered = Object.values(report.statuses).reduce((sum, count) => sum + count, 0)
    if (report.accepted < answered * (1 - MAX_REFUSED_SHARE)) {
      const share = `at least ${(1 - MAX_REFUSED_SHARE) * 100}% must be`
      const statuses = JSON.stringify(report.statuses)
      problems.push(`only ${report.accepted} of ${answered} answered hooks were accepted (${share}): ${statuses}`)
    }
    // A kill cuts at most the one request each sender has under way (senders wait while no server is live).
    if (report.sendErrors > SENDERS * KILLS) {
      problems.push(`${report.sendErrors} requests got no answer: more than ${KILLS} kills can cut (${SENDERS} each)`)
    }

    // What the servers said along the way (retries and errors explain most failures).
    const allLogs = spawned.flatMap((s) => s.logs)
    report.retries = allLogs.filter(
      (line) => line.includes('"msg":"delivery failed; will retry"') && !line.includes('"destination":"hook"'),
    ).length
    const errors = allLogs.filter((line) => /"level":"error"/.test(line) || /Unhandled|uncaught/i.test(line))
    if (errors.length > 0)
      problems.push(
        `${errors.length} error lines in the server logs, e.g.\n  ${[...new Set(errors.map((l) => l.replace(/"time":"[^"]+",?/, '').slice(0, 400)))].slice(0, 5).join('\n  ')}`,
      )
    if (report.retries > 0)
      problems.push(
        `${report.retries} retried deliveries to the disk sink or the tracker, which never fail on their own, e.g.\n  ${allLogs
          .filter(
            (line) => line.includes('"msg":"delivery failed; will retry"') && !line.includes('"destination":"hook"'),
          )
          .slice(0, 3)
          .join('\n  ')}`,
      )
    if (report.failedStarts.length > 0) {
      problems.push(
        `${report.failedStarts.length} failed starts (a supervisor must always be able to bring it back): ${[...new Set(report.failedStarts)].slice(0, 3).join(' | ')}`,
      )
    }
    report.totalMs = Date.now() - started

    const streamsSeen = streams.streams.map((s) => `${s.streamId}:${s.status}`).join(' ')
    console.log(
      `crash-loop ${runtime}: seed=${SEED} kills=${report.kills} (after-exit ${report.killModes['after-exit']}, at-once ${report.killModes['at-once']}, ` +
        `during-start ${report.killModes['during-start']}: ${report.killedStarting.total} starts killed, ${report.killedStarting.beforeListening} before listening) ` +
        `restarts=${report.restarts} failed-starts=${report.failedStarts.length} sent=${report.sent} accepted=${report.accepted} ` +
        `statuses=${JSON.stringify(report.statuses)} send-errors=${report.sendErrors} delivered=${report.delivered}/${report.accepted} ` +
        `missing=${report.missing} corrupt=${report.corrupt} duplicates=${report.duplicates} unacknowledged-delivered=${report.unacknowledgedDelivered} ` +
        `notifier=${report.notifier.received} received, ${report.notifier.missing} missing, ${report.notifier.repeats} repeats, ${report.notifier.answered503} answered 503, ${report.outages} outages ` +
        `stream-events=live:${report.streamEvents.live},ended:${report.streamEvents.ended} retries=${report.retries} ` +
        `drain=${(report.drainMs / 1000).toFixed(1)}s total=${(report.totalMs / 1000).toFixed(1)}s streams=[${streamsSeen}] problems=${problems.length}`,
    )
    mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true })
    writeFileSync(
      join(ROOT, 'test-artifacts', `crash-loop-${runtime}.json`),
      JSON.stringify({ ...report, pids: spawned.map((s) => s.process.pid), dir: tmp.path }, null, 2),
    )
    expect(problems, `crash loop on ${runtime} (seed ${SEED}); server logs in test-artifacts/server-logs/`).toEqual([])
    expect(report.kills).toBeGreaterThanOrEqual(KILLS)
    expect(report.delivered).toBe(report.accepted)
    passed = true
  }, 300_000) // a deadline for a hang: 47-85 s a runtime beside two CPU burners, most of it restarts
})

// Fails loudly rather than silently testing nothing when the filter names no runtime.
if (!RUNTIMES.some((runtime) => ONLY.includes(runtime)))
  throw new Error(`CRASH_LOOP_RUNTIMES names no runtime of ${RUNTIMES.join(', ')}`)
