/**
 * Several instances on one NATS (issue 13, end to end): three real gateway processes — Node, Bun and Deno — share
 * one nats-server (JetStream, `max_payload` raised to 2 MB for `server.maxBodyBytes: 1MiB`; one thumbnail of nearly
 * 1 MiB) as the queue and the stream state. A signed scenario of 12 streams (feeds started, three thumbnails, feeds
 * ended; a third of the streams with two feeds) and a steady load of other hooks (about 15 a second in all) is sent
 * to the instances in turn, several at once, as a load balancer would. Mid-way the Bun instance is killed with
 * SIGKILL while it holds claims (a slow HTTP receiver keeps deliveries in flight), and nats-server is stopped and
 * started again once: hooks sent while it is away get 503 (counted, never taken as accepted), and the instances
 * reconnect by themselves.
 *
 * The platform's side, as the test plays it: a hook whose connection died (the kill) is sent again to another
 * instance; a feed hook answered 503 is sent again until it is accepted (the stream lifecycle needs it); a
 * thumbnail or another hook answered 503 is not (it is counted). A few accepted hooks are replayed to another
 * instance along the way and after the drain.
 *
 * Then, after the drain:
 * - every event answered 2xx is at the fs sink byte for byte, one object per event id; any other object there is
 *   a hook that was sent (its put reached NATS but its answer did not reach us);
 * - the HTTP receiver got every accepted event; the deliveries the kill cut off came again (after the lease);
 * - each stream has exactly one `live` and one `ended` lifecycle event (second fs sink), the `ended` one naming the
 *   session's first thumbnail (the earliest of the stream's thumbnails at the sink). The `live` event waits up to
 *   `streams.thumbnailWait` for the first thumbnail and names it, so a Slack stand-in (bot mode) must get one live
 *   message per stream carrying that thumbnail's bytes (a live event that names none, handed on after the wait or
 *   at an end that came first, may show none), and one end (an update and a reply in its thread); a message posts
 *   twice only where the logs show its delivery made twice (a holder stalled past the ack wait). A later thumbnail
 *   that reached the tracker before the first (whose delivery waited: NATS away, a retry) is what `live` names; the
 *   servers' logs (debug: the tracker's deliveries) must show the first reached it only after that one was accepted;
 * - a replay is answered 200 with `duplicate: true` and the same id; after the drain, a replay writes nothing anew
 *   (checked with a watch on the sink's folders, which also counts at-least-once rewrites along the run);
 * - the admin API of each surviving instance lists every stream (ended), no dead letters, no delivery pending;
 *   event copies left in NATS without a delivery (orphans of a put cut short by the NATS stop; the sweep removes
 *   them later) are listed in the report, and /api/status must count them.
 *
 * One line reports the run (`cluster: ...`); test-artifacts/cluster.json has the details, server logs are in
 * test-artifacts/server-logs/. CLUSTER_SEED=<seed> replays a run's payloads and sizes (not its timing).
 */
import { afterAll, describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, watch, writeFileSync, type FSWatcher } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { ROOT, startServer, type Runtime, type RunningServer } from '../support/runtimes.ts'
import { startNatsServer, type NatsTestServer } from '../support/nats-server.ts'
import { blockText, BOT_TOKEN, CHANNEL, startSlack, type SlackMessage, type SlackStandIn } from '../support/slack.ts'
import { jpeg, PAYLOADS, SECRET } from '../support/hooks.ts'
import { listFiles, tempDir } from '../support/files.ts'
import { createPrng, deriveSeed, seedFrom, type Prng } from '../support/prng.ts'
import { sleep } from '../support/wait.ts'
import { sign } from '../../src/verify/verifier.ts'
import { connect } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'

const SEED = seedFrom(process.env.CLUSTER_SEED)
const ADMIN_TOKEN = 'cluster-test-admin-token-0123456789'
const ENV = { MILLICAST_WEBHOOK_SECRET: SECRET, HOOKCAST_ADMIN_TOKEN: ADMIN_TOKEN, SLACK_TOKEN: BOT_TOKEN }
const ACCOUNT = 'CLUSTER'
const STREAMS = 12
/** A stream's session: feeds started at 0, thumbnails at these offsets, feeds ended at SESSION_MS (ms). */
const THUMBNAILS_AT = [1_000, 4_000, 7_000]
const SESSION_MS = 8_000
/** Streams start this far apart. */
const STAGGER_MS = 1_400
/** Other hooks (viewer, recordings, media, transcoder): one this often, all along. */
const FILLER_EVERY_MS = 80
const LOAD_MS = (STREAMS - 1) * STAGGER_MS + SESSION_MS + 600
const KILL_AT_MS = 9_000
const KILLED: Runtime = 'bun'
const NATS_STOP_AT_MS = 14_500
const NATS_AWAY_MS = 1_500
const REPLAYS_AT_MS = [5_000, 12_000, 19_000]
const ACK_WAIT_MS = 2_000
const FLAP_WINDOW_MS = 1_000
/** The HTTP receiver answers after this long, so deliveries are in flight (claims held) at the kill. */
const RECEIVER_DELAY_MS = 700
const DRAIN_MS = 40_000
const MAX_BODY = 1024 * 1024

console.log(`cluster: seed=${SEED} (reproduce the payloads with CLUSTER_SEED=${SEED})`)

type Kind = 'feeds' | 'thumbnail' | 'recordings' | 'media' | 'transcoder' | 'viewerConnection'

interface Hook {
  n: number
  /** Planned send time, ms after the start of the load; also the hook's own time (base + at). */
  at: number
  kind: Kind
  event: string
  stream?: number
  body: Uint8Array
  headers: Record<string, string>
  sha: string
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')
const streamId = (i: number) => `${ACCOUNT}/s${String(i).padStart(2, '0')}`
const streamName = (i: number) => `s${String(i).padStart(2, '0')}`

/** From the servers' logs: when each event was first accepted and first reached the tracker (ms); its Slack deliveries. */
interface EventLogs {
  accepted: Map<string, number>
  tracked: Map<string, number>
  /** How many times each event was logged delivered to Slack (more than once: a delivery made twice). */
  slack: Map<string, number>
}

/** A lifecycle event as the `alerts` sink stored it, with its id (its file's name). */
interface Lifecycle {
  id: string
  event: string
  data: { streamId: string; session: string; firstThumbnail?: { eventId: string } }
}

function readEventLogs(lines: readonly string[]): EventLogs {
  const times: EventLogs = { accepted: new Map(), tracked: new Map(), slack: new Map() }
  const note = (map: Map<string, number>, id: string, at: number) => map.set(id, Math.min(at, map.get(id) ?? at))
  for (const line of lines) {
    const accepted = line.includes('"msg":"hook accepted"')
    const delivered = line.includes('"msg":"delivered"')
    const id = /"id":"([0-9a-f]+)"/.exec(line)?.[1]
    if (!id || (!accepted && !delivered)) continue
    if (delivered && line.includes('"destination":"slack"')) times.slack.set(id, (times.slack.get(id) ?? 0) + 1)
    const tracked = delivered && line.includes('"destination":"@streams"')
    const at = Date.parse(/"time":"([^"]+)"/.exec(line)?.[1] ?? '')
    if ((accepted || tracked) && Number.isFinite(at)) note(accepted ? times.accepted : times.tracked, id, at)
  }
  return times
}

/** How many times the stream's lifecycle event was delivered to Slack, per the logs (at least once). */
function slackDeliveries(events: readonly Lifecycle[], stream: string, times: EventLogs): number {
  const made = events.filter((e) => e.data.streamId === stream).map((e) => times.slack.get(e.id) ?? 0)
  return Math.max(1, ...made)
}

/**
 * The platform keeps no order, and a delivery can wait (NATS away, a retry): a later thumbnail can reach the tracker
 * first, and the `live` event then names it. That is right, not a fault, when every earlier thumbnail of the session
 * reached the tracker only after the named one was accepted (so none was in the record when `live` was handed on).
 * Returns the named thumbnail when so; undefined otherwise (the test reports the live event).
 */
function overtakenFirst(
  named: string,
  thumbs: ReadonlyArray<{ id: string; at: number; sha: string }>,
  times: EventLogs,
): { id: string; sha: string } | undefined {
  const index = thumbs.findIndex((t) => t.id === named)
  const acceptedAt = times.accepted.get(named)
  if (index <= 0 || acceptedAt === undefined) return undefined
  const earlier = thumbs.slice(0, index)
  return earlier.every((t) => (times.tracked.get(t.id) ?? -Infinity) > acceptedAt) ? thumbs[index] : undefined
}

function describeTimes(thumbs: ReadonlyArray<{ id: string; at: number }>, times: EventLogs): string {
  const at = (map: Map<string, number>, id: string) => (map.has(id) ? new Date(map.get(id)!).toISOString() : '-')
  return thumbs
    .map((t) => `${t.id} sent +${t.at} accepted ${at(times.accepted, t.id)} tracked ${at(times.tracked, t.id)}`)
    .join('; ')
}

function uuid(rng: Prng): string {
  return `${rng.hex(8)}-${rng.hex(4)}-4${rng.hex(3)}-a${rng.hex(3)}-${rng.hex(12)}`
}

/** The scenario: 12 sessions spread over time, and other hooks all along; every hook signed, each one distinct. */
async function plan(seed: number, base: number): Promise<Hook[]> {
  const rng = createPrng(deriveSeed(seed, 'payloads'))
  const hooks: Array<Omit<Hook, 'n' | 'headers' | 'sha'> & { thumbnail?: { feedId: string } }> = []
  const json = (at: number, kind: Kind, payload: { event: string; [field: string]: unknown }, stream?: number) =>
    hooks.push({
      at,
      kind,
      event: payload.event,
      ...(stream !== undefined ? { stream } : {}),
      body: new TextEncoder().encode(JSON.stringify(payload)),
    })
  const big = rng.int(0, STREAMS - 1) // one thumbnail of this stream is nearly 1 MiB: over nats-server's default max_payload with headers
  for (let i = 0; i < STREAMS; i++) {
    const start = i * STAGGER_MS
    const feeds = i % 3 === 0 ? [uuid(rng), uuid(rng)] : [uuid(rng)]
    const data = { accountId: ACCOUNT, name: streamName(i), streamId: streamId(i) }
    feeds.forEach((feedId, f) => {
      const startedAt = start + f * 300
      json(
        startedAt,
        'feeds',
        {
          ...PAYLOADS.feedsStarted,
          timestamp: base + startedAt + 5,
          data: { feedId, ...data, started: base + startedAt, active: true },
        },
        i,
      )
      const endedAt = start + SESSION_MS - f * 400
      json(
        endedAt,
        'feeds',
        {
          ...PAYLOADS.feedsEnded,
          timestamp: base + endedAt + 5,
          data: { feedId, ...data, active: false, ended: base + endedAt },
        },
        i,
      )
    })
    THUMBNAILS_AT.forEach((offset, t) => {
      const size = i === big && t === 1 ? MAX_BODY - rng.int(500, 5_000) : rng.int(5_000, 160_000)
      hooks.push({
        at: start + offset,
        kind: 'thumbnail',
        event: 'thumbnail',
        stream: i,
        body: jpeg(`cluster-${seed}-${i}-${t}`, size),
        thumbnail: { feedId: feeds[0]! },
      })
    })
  }
  for (let at = 0, k = 0; at < LOAD_MS; at += FILLER_EVERY_MS, k++) {
    const i = rng.int(0, STREAMS - 1)
    const ts = base + at + 1
    const kind = rng.weighted<Exclude<Kind, 'feeds' | 'thumbnail'>>({
      viewerConnection: 5,
      recordings: 2,
      media: 2,
      transcoder: 2,
    })
    if (kind === 'viewerConnection') {
      json(at, kind, {
        ...PAYLOADS.viewerAttempt,
        event: rng.pick(['ViewerAttempt', 'ViewerConnected', 'ViewerDisconnected']),
        timestamp: ts,
        data: { name: streamName(i), accountId: ACCOUNT, streamId: streamId(i) },
      })
    } else if (kind === 'recordings') {
      json(at, kind, {
        ...PAYLOADS.recordingsCompleted,
        timestamp: ts,
        data: {
          ...PAYLOADS.recordingsCompleted.data,
          recordFileId: k,
          streamName: streamName(i),
          recordedOn: ts - 5_000,
        },
      })
    } else if (kind === 'media') {
      json(at, kind, {
        ...PAYLOADS.mediaCompleted,
        timestamp: ts,
        data: {
          ...PAYLOADS.mediaCompleted.data,
          mediaAssetId: rng.hex(32),
          streamName: streamName(i),
          streamId: streamId(i),
          startTime: ts - 60_000,
        },
      })
    } else {
      json(at, kind, {
        ...PAYLOADS.transcoderActive,
        event: rng.pick(['ACTIVE', 'STOPPED']),
        timestamp: ts,
        data: { ...PAYLOADS.transcoderActive.data, transcoderId: uuid(rng) },
      })
    }
  }
  hooks.sort((a, b) => a.at - b.at)
  return Promise.all(
    hooks.map(async ({ thumbnail, ...hook }, n) => {
      const signature = await sign(hook.body, SECRET)
      const headers: Record<string, string> = thumbnail
        ? {
            'content-type': 'image/jpeg',
            'x-millicast-signature': signature,
            'x-millicast-feed-id': thumbnail.feedId,
            'x-millicast-stream-id': streamId(hook.stream!),
            'x-millicast-timestamp': String(base + hook.at),
          }
        : { 'content-type': 'application/json', 'x-millicast-signature': signature }
      return { ...hook, n, headers, sha: sha256(hook.body) }
    }),
  )
}

/**
 * A webhook receiver for the HTTP notifier that answers after RECEIVER_DELAY_MS and keeps a hash of each body, and
 * whether it answered: a request whose connection closed first was cut off (its sender died).
 */
async function startSlowReceiver() {
  const requests: Array<{ sha: string; at: number; answered: boolean; cut: boolean }> = []
  let inFlight = 0
  const server = createServer((req, res) => {
    const hash = createHash('sha256')
    req.on('data', (chunk: Buffer) => hash.update(chunk))
    req.on('end', () => {
      const entry = { sha: hash.digest('hex'), at: Date.now(), answered: false, cut: false }
      requests.push(entry)
      inFlight++
      const timer = setTimeout(() => {
        entry.answered = true
        inFlight--
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}')
      }, RECEIVER_DELAY_MS)
      res.on('close', () => {
        if (entry.answered) return
        clearTimeout(timer)
        entry.cut = true
        inFlight--
      })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    inFlight: () => inFlight,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** Counts the writes (renames into place) per object under the given folders of a sink. */
function watchWrites(root: string, folders: string[]) {
  const writes = new Map<string, number[]>()
  const watchers: FSWatcher[] = []
  for (const folder of folders) {
    mkdirSync(join(root, folder), { recursive: true })
    watchers.push(
      watch(join(root, folder), (type, name) => {
        if (type !== 'rename' || !name || name.endsWith('.tmp')) return
        const key = `${folder}/${name}`
        writes.set(key, [...(writes.get(key) ?? []), Date.now()])
      }),
    )
  }
  return {
    writes,
    close: () => {
      for (const w of watchers) w.close()
    },
  }
}

interface Sent extends Pick<Hook, 'n' | 'at' | 'kind' | 'event' | 'stream' | 'sha'> {
  size: number
  id?: string
  /** The instance that answered 2xx, and when. */
  by?: Runtime
  acceptedAt?: number
}

interface Status {
  spool: { pendingEvents: number; pendingDeliveries: number; deadLetters: number; oldestPendingAgeMs: number }
  destinations: Array<{ destination: string; pending: number; inFlight: number; circuit: string }>
}

interface Instance {
  runtime: Runtime
  server: RunningServer
  alive: boolean
}

describe('three instances (node, bun, deno) on one NATS', () => {
  let tmp: ReturnType<typeof tempDir> | undefined
  let nats: NatsTestServer | undefined
  let slack: SlackStandIn | undefined
  let receiver: Awaited<ReturnType<typeof startSlowReceiver>> | undefined
  let watcher: ReturnType<typeof watchWrites> | undefined
  const instances: Instance[] = []

  afterAll(async () => {
    watcher?.close()
    await Promise.all(instances.map((i) => i.server.stop().catch(() => {})))
    await slack?.close()
    await receiver?.close()
    await nats?.remove()
    tmp?.remove()
  })

  it('keeps every accepted event exactly once, one live and one ended per stream, through a kill -9 and a NATS restart', async () => {
    const started = Date.now()
    const problems: string[] = []
    tmp = tempDir('hookcast-cluster-')
    const data = join(tmp.path, 'data')
    const alerts = join(tmp.path, 'alerts')
    // 1 MiB bodies plus hookcast's 64 KiB of headers: over nats-server's default max_payload of 1 MB.
    nats = await startNatsServer({ maxPayload: 2 * 1024 * 1024 })
    slack = await startSlack()
    const answerSlack = slack.receiver.answer
    slack.receiver.answer = async (request) => ({ delayMs: 40, ...(await answerSlack(request)) }) // a little latency, as Slack has
    receiver = await startSlowReceiver()
    const config = join(tmp.path, 'config.yaml')
    writeFileSync(
      config,
      `
server: { maxBodyBytes: 1MiB }
sources:
  millicast: { path: /hooks/millicast, secrets: ["\${MILLICAST_WEBHOOK_SECRET}"] }
sinks:
  disk: { type: fs, dir: "${data}", key: "{type}/{id}.{ext}" }
  alerts: { type: fs, dir: "${alerts}", key: "{event}/{id}.{ext}" }
notifiers:
  hook: { type: http, url: "${receiver.url}/in", mode: original, secret: "whsec_${Buffer.from('cluster-test-notifier-secret-01').toString('base64')}" }
  slack: { type: slack, token: "\${SLACK_TOKEN}", channel: ${CHANNEL}, apiUrl: "${slack.apiUrl}", minInterval: 50ms }
spool: { type: nats, servers: ["${nats.url}"], ackWait: ${ACK_WAIT_MS}ms }
# No delayed checks but the flap window's and a short wait for the first thumbnail (it comes at +1 s): the spool drains.
streams: { flapWindow: ${FLAP_WINDOW_MS}ms, endAfterSilence: false, thumbnailWait: 5s, health: false }
# Debug: the tracker's deliveries (@streams) are logged, which tells when each thumbnail reached it.
log: { level: debug }
delivery:
  retry: { schedule: [200ms, 500ms, 1s, 2s], jitter: 0.1 }
  circuit: { failures: 100, probeAfter: 500ms, maxProbeAfter: 2s }
  destinations: { hook: { concurrency: 8, timeout: 10s } }
admin: { token: "\${HOOKCAST_ADMIN_TOKEN}" }
routes:
  - to: [disk, hook]
  - when: { type: [stream] }
    to: [alerts, slack]
`,
    )
    const kinds: Kind[] = ['feeds', 'thumbnail', 'recordings', 'media', 'transcoder', 'viewerConnection']
    watcher = watchWrites(data, kinds)
    const alertWrites = watchWrites(alerts, ['live', 'ended'])

    // All three at once, as bin/cluster.sh does: each makes sure the streams and buckets exist.
    const runtimes: Runtime[] = ['node', 'bun', 'deno']
    const servers = await Promise.allSettled(runtimes.map((runtime) => startServer(runtime, config, ENV)))
    for (const [index, result] of servers.entries()) {
      if (result.status === 'fulfilled')
        instances.push({ runtime: runtimes[index]!, server: result.value, alive: true })
    }
    const failedStart = servers.find((r) => r.status === 'rejected')
    if (failedStart) throw (failedStart as PromiseRejectedResult).reason
    const startMs = Date.now() - started

    const admin = async <T>(instance: Instance, path: string): Promise<T> => {
      const response = await fetch(`${instance.server.url}${path}`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        signal: AbortSignal.timeout(10_000),
      })
      if (!response.ok) throw new Error(`${instance.runtime} ${path}: ${response.status} ${await response.text()}`)
      return (await response.json()) as T
    }

    const report = {
      seed: SEED,
      sent: 0,
      accepted: 0,
      statuses: {} as Record<string, number>,
      sendErrors: 0,
      resentAfterError: 0,
      duplicateOnResend: 0,
      unavailable: { total: 0, duringRestart: 0, publishTimeout: 0 },
      lost503: 0,
      kills: 0,
      cutAtKill: 0,
      natsAwayMs: 0,
      reconnectMs: {} as Record<string, number>,
      replays: { sent: 0, duplicate: 0 },
      delivered: 0,
      deliveredWithout2xx: 0,
      sinkRewrites: 0,
      receiverRepeats: 0,
      live: 0,
      ended: 0,
      liveCarryingFirst: 0,
      /** Live events that named a later thumbnail because the first reached the tracker after it (overtakenFirst). */
      liveOvertaken: 0,
      slackLiveWithoutThumbnail: 0,
      slackLive: 0,
      slackEnded: 0,
      /** Slack messages posted again by a delivery made twice (its holder stalled past the ack wait), per the logs. */
      slackRepeats: 0,
      errorLines: 0,
      drainMs: 0,
      startMs,
      totalMs: 0,
      orphans: 0,
      repeats: { kill: 0, natsRestart: 0, replay: 0, other: 0 },
    }
    const sentBySha = new Map<string, Sent>()
    const accepted = new Map<string, Sent>()

    // The load balancer: the instances in turn, the dead one out of the rotation.
    let turn = 0
    const pickInstance = (not?: Runtime) => {
      const alive = instances.filter((i) => i.alive && i.runtime !== not)
      return alive[turn++ % alive.length]!
    }
    let natsStoppedAt = Infinity
    let natsBackAt = Infinity
    let reconnectedAt = Infinity

    const base = Date.now() + 1_000
    const hooks = await plan(SEED, base)

    /** One attempt: the status and answer, or undefined when the connection failed. */
    async function attempt(
      instance: Instance,
      hook: Pick<Hook, 'headers' | 'body'>,
    ): Promise<{ status: number; body: { id?: string; duplicate?: boolean } } | undefined> {
      try {
        const response = await fetch(`${instance.server.url}/hooks/millicast`, {
          method: 'POST',
          headers: hook.headers,
          body: hook.body as Uint8Array<ArrayBuffer>,
          signal: AbortSignal.timeout(15_000),
        })
        const text = await response.text()
        let body = {}
        try {
          body = JSON.parse(text) as object
        } catch {
          // not JSON: the status says enough
        }
        return { status: response.status, body }
      } catch {
        return undefined
      }
    }

    async function send(hook: Hook): Promise<void> {
      const sent: Sent = {
        n: hook.n,
        at: hook.at,
        kind: hook.kind,
        event: hook.event,
        ...(hook.stream !== undefined ? { stream: hook.stream } : {}),
        sha: hook.sha,
        size: hook.body.byteLength,
      }
      sentBySha.set(hook.sha, sent)
      report.sent++
      for (let tries = 1; tries <= 40; tries++) {
        const instance = pickInstance()
        const answer = await attempt(instance, hook)
        if (!answer) {
          // The connection died (the kill): the platform sends it again, to another instance.
          report.sendErrors++
          report.resentAfterError++
          await sleep(300)
          continue
        }
        report.statuses[answer.status] = (report.statuses[answer.status] ?? 0) + 1
        if (answer.status === 200) {
          const id = answer.body.id!
          const other = accepted.get(id)
          if (other && other.sha !== hook.sha)
            problems.push(`two different hooks (#${other.n}, #${hook.n}) answered with the same id ${id}`)
          if (tries > 1 && answer.body.duplicate) report.duplicateOnResend++
          Object.assign(sent, { id, by: instance.runtime, acceptedAt: Date.now() })
          accepted.set(id, sent)
          return
        }
        if (answer.status === 503) {
          report.unavailable.total++
          const now = Date.now()
          if (now >= natsStoppedAt - 100 && now <= Math.min(reconnectedAt, Date.now()) + 1_000)
            report.unavailable.duringRestart++
          else report.unavailable.publishTimeout++ // NATS did not ack within publishTimeout (a starved machine): 503 is right
          if ((answer.body as { error?: string }).error !== 'spool_unavailable')
            problems.push(
              `503 for hook #${hook.n} (${hook.kind}) from ${instance.runtime}: ${JSON.stringify(answer.body)}`,
            )
          if (hook.kind !== 'feeds') {
            report.lost503++ // counted, not sent again
            return
          }
          await sleep(400) // a feed hook: the platform tries again until it is taken
          continue
        }
        problems.push(
          `unexpected ${answer.status} for hook #${hook.n} (${hook.kind}) from ${instance.runtime}: ${JSON.stringify(answer.body).slice(0, 200)}`,
        )
        return
      }
      problems.push(`hook #${hook.n} (${hook.kind}) was never accepted after 40 tries`)
    }

    /** Sends an accepted hook again to another instance: 200, `duplicate: true`, the same id. */
    async function replay(sent: Sent, hook: Hook): Promise<void> {
      for (let tries = 1; tries <= 20; tries++) {
        const instance = pickInstance(sent.by)
        const answer = await attempt(instance, hook)
        if (answer?.status === 503 || !answer) {
          await sleep(400)
          continue
        }
        report.replays.sent++
        if (answer.status === 200 && answer.body.duplicate === true && answer.body.id === sent.id)
          report.replays.duplicate++
        else {
          if (answer.status === 200) replayedAnew.add(hook.sha)
          const when =
            Date.now() < natsStoppedAt
              ? 'before the NATS restart'
              : sent.acceptedAt! < natsStoppedAt
                ? 'accepted before the NATS restart, replayed after it'
                : 'after the NATS restart'
          problems.push(
            `hook #${hook.n} (${hook.kind}, accepted by ${sent.by} as ${sent.id}; ${when}) replayed to ${instance.runtime}: ${answer.status} ${JSON.stringify(answer.body)}`,
          )
        }
        return
      }
      problems.push(`replay of hook #${hook.n} never answered`)
    }
    const hookBySha = new Map(hooks.map((h) => [h.sha, h]))
    const pickForReplay = (count: number, rng: Prng) => {
      const candidates = [...accepted.values()].filter((s) => Date.now() - s.acceptedAt! > 1_000)
      return Array.from(
        { length: Math.min(count, candidates.length) },
        () => candidates.splice(rng.int(0, candidates.length - 1), 1)[0]!,
      )
    }
    const replayRng = createPrng(deriveSeed(SEED, 'replays'))
    /** Hooks a replay put again (answered `duplicate: false`): their repeats at the receiver come from the replay. */
    const replayedAnew = new Set<string>()

    // The load, on its timeline.
    const pending: Array<Promise<void>> = []
    const timers: Array<ReturnType<typeof setTimeout>> = []
    const at = (ms: number, task: () => Promise<void>) => {
      timers.push(setTimeout(() => pending.push(task()), Math.max(0, base + ms - Date.now())))
    }
    for (const hook of hooks) at(hook.at, () => send(hook))
    for (const ms of REPLAYS_AT_MS)
      at(ms, async () => {
        await Promise.all(pickForReplay(3, replayRng).map((s) => replay(s, hookBySha.get(s.sha)!)))
      })
    const killed = instances.find((i) => i.runtime === KILLED)!
    let killedAt = 0
    let inFlightAtKill = 0
    at(KILL_AT_MS, async () => {
      // Kill while deliveries are under way (the receiver holds each for RECEIVER_DELAY_MS): some are the victim's.
      const until = Date.now() + 2_000
      while (receiver!.inFlight() < 8 && Date.now() < until) await sleep(10)
      inFlightAtKill = receiver!.inFlight()
      killed.alive = false // out of the balancer's rotation
      killedAt = Date.now()
      await killed.server.kill()
      report.kills++
    })
    at(NATS_STOP_AT_MS, async () => {
      natsStoppedAt = Date.now()
      await nats!.stop()
      await sleep(NATS_AWAY_MS)
      await nats!.start()
      natsBackAt = Date.now()
      report.natsAwayMs = natsBackAt - natsStoppedAt
      // The instances reconnect by themselves: /readyz says when.
      await Promise.all(
        instances
          .filter((i) => i.alive)
          .map(async (instance) => {
            for (;;) {
              const ready = await fetch(`${instance.server.url}/readyz`, { signal: AbortSignal.timeout(5_000) }).then(
                (r) => r.status,
                () => 0,
              )
              if (ready === 200) break
              if (Date.now() - natsBackAt > 30_000) {
                problems.push(`${instance.runtime} not ready 30 s after nats-server came back`)
                break
              }
              await sleep(50)
            }
            report.reconnectMs[instance.runtime] = Date.now() - natsBackAt
          }),
      )
      reconnectedAt = Date.now()
    })
    await sleep(base + LOAD_MS + 200 - Date.now())
    while (pending.length < timers.length) await sleep(50)
    await Promise.all(pending)
    report.accepted = accepted.size

    // Drain: every accepted event at the sink and the receiver, one live and ended alert per stream, nothing pending.
    const survivors = instances.filter((i) => i.alive)
    const idle = (status: Status) =>
      status.spool.pendingDeliveries === 0 && status.destinations.every((d) => d.pending === 0 && d.inFlight === 0)
    const sinkIds = () => new Set(listFiles(data).map((path) => path.split('/').at(-1)!.split('.')[0]!))
    const alertFiles = (event: 'live' | 'ended') => listFiles(join(alerts, event))
    const drainStart = Date.now()
    let statuses: Status[] = []
    for (;;) {
      statuses = await Promise.all(survivors.map((i) => admin<Status>(i, '/api/status')))
      const ids = sinkIds()
      const done =
        statuses.every(idle) &&
        [...accepted.keys()].every((id) => ids.has(id)) &&
        alertFiles('ended').length >= STREAMS &&
        new Set(receiver.requests.filter((r) => r.answered).map((r) => r.sha)).size >= accepted.size
      if (done || Date.now() - drainStart > DRAIN_MS) break
      await sleep(250)
    }
    // Past another lease: a claim still held somewhere would show as pending again.
    await sleep(ACK_WAIT_MS + 500)
    statuses = await Promise.all(survivors.map((i) => admin<Status>(i, '/api/status')))
    report.drainMs = Date.now() - drainStart
    for (const [index, status] of statuses.entries()) {
      // pendingEvents counts event copies, orphans included (see below): deliveries are what must be done.
      if (!idle(status))
        problems.push(
          `${survivors[index]!.runtime}'s /api/status after the drain shows work pending: ${JSON.stringify(status)}`,
        )
      if (status.spool.deadLetters > 0)
        problems.push(`${survivors[index]!.runtime}'s /api/status shows ${status.spool.deadLetters} dead letters`)
    }
    for (const instance of survivors) {
      const { deadLetters } = await admin<{
        deadLetters: Array<{ eventId: string; destination: string; attempts: Array<{ error: string }> }>
      }>(instance, '/api/dead-letters')
      if (deadLetters.length > 0)
        problems.push(
          `${instance.runtime} lists ${deadLetters.length} dead letters, e.g. ${JSON.stringify(deadLetters.slice(0, 3).map((d) => ({ id: d.eventId, destination: d.destination, errors: d.attempts.map((a) => a.error) })))}`,
        )
      const { streams } = await admin<{ streams: Array<{ streamId: string; status: string }> }>(
        instance,
        '/api/streams',
      )
      const listed = new Map(streams.map((s) => [s.streamId, s.status]))
      const wrong = Array.from({ length: STREAMS }, (_, i) => streamId(i)).filter((id) => listed.get(id) !== 'ended')
      if (wrong.length > 0)
        problems.push(
          `${instance.runtime}'s /api/streams: ${wrong.map((id) => `${id} ${listed.get(id) ?? 'missing'}`).join(', ')}`,
        )
    }

    // Replays after the drain, each to an instance other than the one that took the hook: nothing is written anew.
    const writesBefore = [...watcher.writes.values()].reduce((n, w) => n + w.length, 0)
    const receivedBefore = receiver.requests.length
    const late = pickForReplay(8, replayRng)
    const sinkPath = (sent: Sent) => `${sent.kind}/${sent.id}.${sent.kind === 'thumbnail' ? 'jpg' : 'json'}`
    const lateWrites = new Map(late.map((sent) => [sent, watcher!.writes.get(sinkPath(sent))?.length ?? 0]))
    await Promise.all(late.map((s) => replay(s, hookBySha.get(s.sha)!)))
    await sleep(ACK_WAIT_MS + 500)
    const writesAfter = [...watcher.writes.values()].reduce((n, w) => n + w.length, 0)
    if (writesAfter !== writesBefore) {
      const again = late.filter((sent) => (watcher!.writes.get(sinkPath(sent))?.length ?? 0) > lateWrites.get(sent)!)
      problems.push(
        `replays after the drain wrote ${writesAfter - writesBefore} objects to the sink again: ${again.map((s) => `#${s.n} ${s.kind}${replayedAnew.has(s.sha) ? '' : ' (answered duplicate: true)'}`).join(', ')}`,
      )
    }
    if (receiver.requests.length !== receivedBefore)
      problems.push(
        `replays after the drain reached the HTTP receiver ${receiver.requests.length - receivedBefore} times`,
      )
    for (const [index, status] of (
      await Promise.all(survivors.map((i) => admin<Status>(i, '/api/status')))
    ).entries()) {
      if (!idle(status))
        problems.push(`${survivors[index]!.runtime}'s /api/status after the replays: ${JSON.stringify(status)}`)
    }

    // Event copies left in NATS with no delivery (pendingDeliveries is 0): orphans of puts that stored the event but
    // not its deliveries before NATS went away or did not ack in time (answered 503, not sent again), or whose removal
    // could not reach NATS. README: the sweep removes them after the dedup window; they are listed, not failed.
    const orphans: Array<{ id: string; type: string; why: string }> = []
    const nc = await connect({ servers: nats.url })
    try {
      const jsm = await jetstreamManager(nc)
      const info = await jsm.streams.info('hookcast-events')
      for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
        const stored = await jsm.streams.getMessage('hookcast-events', { seq }).catch(() => null)
        if (!stored) continue
        const meta = JSON.parse(stored.header.get('Hookcast-Event')) as { id: string; type: string; receivedAt: number }
        const sent = sentBySha.get(sha256(stored.data))
        const why = accepted.has(meta.id)
          ? 'accepted and delivered; its removal did not reach NATS'
          : sent
            ? `hook #${sent.n}, never answered 2xx`
            : 'no hook of the test'
        orphans.push({
          id: meta.id,
          type: meta.type,
          why: `${why}; received ${meta.receivedAt - natsStoppedAt} ms from the NATS stop`,
        })
      }
    } finally {
      await nc.close()
    }
    report.orphans = orphans.length

    for (const [index, status] of (
      await Promise.all(survivors.map((i) => admin<Status>(i, '/api/status')))
    ).entries()) {
      if (status.spool.pendingEvents !== orphans.length)
        problems.push(
          `${survivors[index]!.runtime}'s /api/status counts ${status.spool.pendingEvents} pending events; the events stream holds ${orphans.length}`,
        )
    }

    // The sink: every accepted event once, byte for byte; anything else there was sent (put, but unanswered).
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
    /** Thumbnails at the sink, by stream: the session's first is the earliest of them. */
    const thumbnailsAtSink = new Map<number, Array<{ id: string; at: number; sha: string }>>()
    for (const [id, paths] of byId) {
      if (paths.length > 1) problems.push(`more than one object for event ${id}: ${paths.join(', ')}`)
      const bytes = readFileSync(join(data, paths[0]!))
      const sha = sha256(bytes)
      const sent = accepted.get(id)
      if (sent) {
        if (sent.sha !== sha || sent.size !== bytes.byteLength)
          problems.push(
            `${paths[0]} (hook #${sent.n}, ${sent.kind}) differs from what was sent: ${bytes.byteLength} bytes, ${sent.size} sent`,
          )
        else report.delivered++
      } else if (sentBySha.has(sha)) {
        report.deliveredWithout2xx++ // its put reached NATS, its answer was a 503 or never came: delivered all the same
      } else {
        problems.push(`object ${paths[0]} matches no hook that was sent`)
      }
      const hook = sentBySha.get(sha)
      if (hook?.kind === 'thumbnail')
        thumbnailsAtSink.set(hook.stream!, [...(thumbnailsAtSink.get(hook.stream!) ?? []), { id, at: hook.at, sha }])
    }
    const missing = [...accepted.keys()].filter((id) => !byId.has(id))
    if (missing.length > 0) {
      problems.push(
        `${missing.length} accepted events are not at the sink, e.g. ${missing
          .slice(0, 5)
          .map((id) => `${id} (#${accepted.get(id)!.n} ${accepted.get(id)!.kind} via ${accepted.get(id)!.by})`)
          .join(', ')}`,
      )
    }
    report.sinkRewrites = [...watcher.writes.values()].reduce((n, w) => n + w.length - 1, 0)

    // The HTTP receiver: every accepted event (at least once); the deliveries the kill cut off came again.
    const received = new Map<string, number>()
    for (const request of receiver.requests)
      if (request.answered) received.set(request.sha, (received.get(request.sha) ?? 0) + 1)
    report.receiverRepeats = [...received.values()].reduce((n, count) => n + count - 1, 0)
    const repeatsOther: string[] = []
    // A repeat is a delivery made again because its ack did not reach NATS: the killed instance's, or while NATS was away.
    for (const [sha, count] of received) {
      if (count < 2) continue
      const first = receiver.requests.find((r) => r.sha === sha && r.answered)!.at
      if (replayedAnew.has(sha)) report.repeats.replay += count - 1
      else if (first >= killedAt - RECEIVER_DELAY_MS - 500 && first <= killedAt + 500) report.repeats.kill += count - 1
      else if (first >= natsStoppedAt - RECEIVER_DELAY_MS - 1_000 && first <= reconnectedAt + 1_000)
        report.repeats.natsRestart += count - 1
      else {
        report.repeats.other += count - 1
        const times = receiver.requests
          .filter((r) => r.sha === sha)
          .map((r) => `${r.at - base}${r.answered ? '' : ' (cut)'}`)
        repeatsOther.push(
          `hook #${sentBySha.get(sha)?.n} (${sentBySha.get(sha)?.kind}, sent at +${sentBySha.get(sha)?.at}) received at +${times.join(', +')} ms`,
        )
      }
    }
    const notReceived = [...accepted.values()].filter((s) => !received.has(s.sha))
    if (notReceived.length > 0)
      problems.push(
        `${notReceived.length} accepted events never reached the HTTP receiver, e.g. ${notReceived
          .slice(0, 3)
          .map((s) => `#${s.n} ${s.kind} ${s.id}`)
          .join(', ')}`,
      )
    for (const sha of received.keys())
      if (!sentBySha.has(sha)) problems.push(`the HTTP receiver got a body that was never sent (sha256 ${sha})`)
    const cut = receiver.requests.filter((r) => r.cut)
    report.cutAtKill = cut.length
    const redelivery: number[] = []
    for (const request of cut) {
      const again = receiver.requests.find((r) => r.sha === request.sha && r.answered && r.at > request.at)
      if (!again)
        problems.push(`a delivery cut off by the kill (hook #${sentBySha.get(request.sha)?.n}) never came again`)
      else redelivery.push(again.at - killedAt)
    }
    if (cut.length === 0)
      problems.push(
        `the kill cut off no delivery (${inFlightAtKill} in flight at the receiver then): nothing tested the redelivery of a dead instance's claims`,
      )

    // Lifecycle events: one live and one ended per stream; the ended one names the session's first thumbnail.
    const lifecycles = (event: 'live' | 'ended'): Lifecycle[] =>
      alertFiles(event).map((path) => ({
        ...(JSON.parse(readFileSync(join(alerts, event, path), 'utf8')) as Omit<Lifecycle, 'id'>),
        id: path.replace(/\.json$/, ''),
      }))
    const live = lifecycles('live')
    const ended = lifecycles('ended')
    report.live = live.length
    report.ended = ended.length
    const expectedFirst = new Map<string, { id: string; sha: string }>()
    const eventLogs = readEventLogs(instances.flatMap((i) => i.server.logs))
    // A live event handed on after thumbnailWait (or at an end that came first) names no thumbnail: nor does Slack.
    const liveWithoutThumbnail = new Set(live.filter((e) => !e.data.firstThumbnail).map((e) => e.data.streamId))
    for (let i = 0; i < STREAMS; i++) {
      const id = streamId(i)
      const lives = live.filter((e) => e.data.streamId === id)
      const ends = ended.filter((e) => e.data.streamId === id)
      if (lives.length !== 1 || ends.length !== 1) {
        problems.push(
          `${id}: ${lives.length} live and ${ends.length} ended events (sessions ${[...new Set([...lives, ...ends].map((e) => e.data.session))].join(', ')})`,
        )
      }
      const thumbs = (thumbnailsAtSink.get(i) ?? []).sort((a, b) => a.at - b.at)
      if (thumbs.length === 0) {
        problems.push(`${id}: no thumbnail of it reached the sink`)
        continue
      }
      expectedFirst.set(id, thumbs[0]!)
      for (const end of ends) {
        if (end.data.firstThumbnail?.eventId !== thumbs[0]!.id) {
          problems.push(
            `${id}: the ended event names ${end.data.firstThumbnail?.eventId ?? 'no'} first thumbnail; the earliest at the sink is ${thumbs[0]!.id} (of ${thumbs.map((t) => `${t.id}@+${t.at}`).join(', ')})`,
          )
        }
      }
      for (const start of lives) {
        if (start.data.firstThumbnail) {
          report.liveCarryingFirst++
          const named = start.data.firstThumbnail.eventId
          const overtaken = named === thumbs[0]!.id ? undefined : overtakenFirst(named, thumbs, eventLogs)
          if (overtaken) {
            expectedFirst.set(id, overtaken)
            report.liveOvertaken++
          } else if (named !== thumbs[0]!.id)
            problems.push(
              `${id}: the live event names ${named} as first thumbnail, not ${thumbs[0]!.id} (${describeTimes(thumbs, eventLogs)})`,
            )
        }
      }
    }
    const rewrittenAlerts = [...alertWrites.writes.entries()].filter(([, w]) => w.length > 1)
    alertWrites.close()

    // Slack: one live message per stream with the first thumbnail's bytes, one end (an update and a reply in its thread).
    const slackMessages = slack.messages
    for (let i = 0; i < STREAMS; i++) {
      const name = streamName(i)
      const lives = slackMessages.filter(
        (m) => !m.threadTs && m.via !== 'chat.update' && blockText(m).includes(`*${name}* is live`),
      )
      report.slackLive += lives.length
      const liveMessage: SlackMessage | undefined = lives[0]
      // At least once: a delivery made twice (its holder stalled past the ack wait) posts twice; the logs show it.
      const liveMade = slackDeliveries(live, streamId(i), eventLogs)
      const endedMade = slackDeliveries(ended, streamId(i), eventLogs)
      if (lives.length >= 1 && lives.length <= liveMade) report.slackRepeats += lives.length - 1
      else {
        problems.push(
          `${streamId(i)}: ${lives.length} Slack live messages${lives.length > 1 ? ` (at ${lives.map((m) => m.at - killedAt).join(', ')} ms from the kill)` : ''}`,
        )
      }
      if (!liveMessage) continue
      // The live event's thumbnail: the session's first, or the later one that overtook it (overtakenFirst).
      const first = expectedFirst.get(streamId(i))
      // A live event naming no thumbnail: Slack reads the session's first from the record once, if it is in by then.
      const optional = liveWithoutThumbnail.has(streamId(i))
      if (optional && !liveMessage.file) {
        report.slackLiveWithoutThumbnail++
      } else if (liveMessage.via !== 'upload' || !liveMessage.file) {
        problems.push(`${streamId(i)}: the Slack live message has no thumbnail (${liveMessage.via})`)
      } else if (first && sha256(liveMessage.file) !== first.sha) {
        const carried = sentBySha.get(sha256(liveMessage.file))
        problems.push(
          `${streamId(i)}: the Slack live message carries ${carried ? `the thumbnail sent at +${carried.at} ms` : 'an unknown image'}, not the first (${first.id})`,
        )
      }
      const threads = new Set(lives.map((m) => m.ts))
      const replies = slackMessages.filter(
        (m) => m.threadTs !== undefined && threads.has(m.threadTs) && blockText(m).includes(`*${name}* ended`),
      )
      const updates = slackMessages.filter((m) => m.via === 'chat.update' && threads.has(m.ts))
      report.slackEnded += replies.length
      if (replies.length === updates.length && replies.length >= 1 && replies.length <= endedMade)
        report.slackRepeats += replies.length - 1
      else
        problems.push(
          `${streamId(i)}: ${updates.length} Slack updates and ${replies.length} ended replies in the live message's thread (the ended event delivered to Slack ${endedMade} time(s))`,
        )
    }

    const logs = instances.flatMap((i) => i.server.logs.map((line) => `[${i.runtime}] ${line}`))
    const errors = logs.filter((line) => /"level":"error"/.test(line) || /Unhandled|uncaught/i.test(line))
    report.errorLines = errors.length
    report.totalMs = Date.now() - started

    console.log(
      `cluster: seed=${SEED} sent=${report.sent} accepted=${report.accepted} statuses=${JSON.stringify(report.statuses)} ` +
        `503=${report.unavailable.total} (${report.unavailable.duringRestart} during the NATS restart of ${report.natsAwayMs} ms, ${report.unavailable.publishTimeout} publish timeouts; ${report.lost503} not sent again) ` +
        `reconnect=${JSON.stringify(report.reconnectMs)} kills=${report.kills} (${KILLED}, ${inFlightAtKill} deliveries in flight, ${report.cutAtKill} cut off, ` +
        `again after ${redelivery.length ? `${Math.min(...redelivery)}-${Math.max(...redelivery)} ms` : '-'}) send-errors=${report.sendErrors} ` +
        `(resent: ${report.duplicateOnResend} duplicate) replays=${report.replays.duplicate}/${report.replays.sent} duplicate ` +
        `delivered=${report.delivered}/${report.accepted} delivered-without-2xx=${report.deliveredWithout2xx} missing=${missing.length} ` +
        `sink-rewrites=${report.sinkRewrites} receiver-repeats=${report.receiverRepeats} ${JSON.stringify(report.repeats)} orphans=${report.orphans} live=${report.live} ended=${report.ended} ` +
        `(live carrying a first thumbnail: ${report.liveCarryingFirst}, a later one that overtook it: ${report.liveOvertaken}; rewritten: ${rewrittenAlerts.length}) slack live=${report.slackLive} (without a thumbnail: ${report.slackLiveWithoutThumbnail}) ended=${report.slackEnded} (posted again: ${report.slackRepeats}) ` +
        `error-lines=${report.errorLines} start=${(startMs / 1000).toFixed(1)}s drain=${(report.drainMs / 1000).toFixed(1)}s ` +
        `total=${(report.totalMs / 1000).toFixed(1)}s problems=${problems.length}`,
    )
    mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true })
    writeFileSync(
      join(ROOT, 'test-artifacts', 'cluster.json'),
      JSON.stringify(
        {
          ...report,
          killedAt,
          base,
          natsStoppedAt,
          natsBackAt,
          reconnectedAt,
          problems,
          orphanCopies: orphans,
          repeatsOther,
          killedAtMs: killedAt - base,
          natsStopAtMs: natsStoppedAt - base,
          reconnectedAtMs: reconnectedAt - base,
          errors: [...new Set(errors.map((l) => l.replace(/"time":"[^"]+",?/, '').slice(0, 400)))].slice(0, 40),
          natsWarnings: nats.logs.filter((line) => /\[(WRN|ERR)\]/.test(line)).slice(0, 40),
        },
        null,
        2,
      ),
    )
    expect(
      problems,
      `cluster run (seed ${SEED}); details in test-artifacts/cluster.json, server logs in test-artifacts/server-logs/`,
    ).toEqual([])
    expect(report.kills).toBe(1)
    expect(report.unavailable.duringRestart).toBeGreaterThan(0)
    expect(report.delivered).toBe(report.accepted)
  }, 150_000)
})
