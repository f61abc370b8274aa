/**
 * The workloads: what each one sends, to which receivers, and how it checks that every accepted event reached its
 * destination byte for byte. (a)-(c) drive a receiver with autocannon in its own process; (d) drains a backlog
 * after a restart; the cold start times a spawn to its first `200`; idle reads a receiver's memory 3 s and 15 s
 * after it listens, before any request. `nats3` is three hookcast instances on Node sharing one nats-server (`spool: { type:
 * nats }`: the queue and the stream state) and one fs sink directory, with autocannon's connections spread evenly
 * over the three.
 * @module
 */
import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { request } from 'node:http'
import { loadavg } from 'node:os'
import { performance } from 'node:perf_hooks'
import { bodyFactory, HOOK_PATH, SECRET, type BodyKind } from './bodies.ts'
import type { LoadOptions, LoadResult } from './load.ts'
import {
  checkDelivered,
  COMMANDS,
  cpuSeconds,
  cpuTimes,
  currentRss,
  fileCreateCost,
  machineBusySeconds,
  peakRss,
  ROOT,
  sleep,
  startServer,
  undelivered,
  sumCounts,
  tempDir,
  type Server,
} from './lib.ts'
import { startNats } from './nats.ts'
import { fillSpool } from './backlog.ts'
import type { Options } from './options.ts'

// ---------------------------------------------------------------------------------------------------------------
// What runs.

export type ServerKind = ReferenceKind | 'node' | 'deno' | 'bun' | 'node-fsync' | 'nats3'
/** The receivers hookcast is measured against, which write before answering (bench/servers/). */
export type ReferenceKind = 'floor' | 'hono' | 'express'
export const isReference = (kind: ServerKind): kind is ReferenceKind =>
  kind === 'floor' || kind === 'hono' || kind === 'express'
export type Runtime = 'node' | 'deno' | 'bun'
/** The receivers whose idle memory is read: the floor and hookcast on each runtime. */
export type IdleKind = 'floor' | Runtime

export interface Workload {
  key: 'a' | 'b' | 'c'
  title: string
  kind: BodyKind
  size: number
  connections: number
  servers: ServerKind[]
}

const KiB = 1024
export const WORKLOADS: Workload[] = [
  {
    key: 'a',
    title: '(a) 100 KB JPEG thumbnails, 32 connections',
    kind: 'thumbnail',
    size: 100 * KiB,
    connections: 32,
    servers: ['floor', 'hono', 'express', 'node', 'deno', 'bun', 'node-fsync', 'nats3'],
  },
  {
    key: 'b',
    title: '(b) 1 MB JPEG thumbnails, 64 connections',
    kind: 'thumbnail',
    size: 1024 * KiB,
    connections: 64,
    servers: ['floor', 'hono', 'express', 'node', 'deno', 'bun'],
  },
  {
    key: 'c',
    title: '(c) feeds JSON events, 64 connections',
    kind: 'json',
    size: 0,
    connections: 64,
    servers: ['floor', 'hono', 'express', 'node', 'deno', 'bun', 'node-fsync', 'nats3'],
  },
]
export const RUNTIMES: Runtime[] = ['node', 'deno', 'bun']
export const IDLE_KINDS: IdleKind[] = ['floor', ...RUNTIMES]

// ---------------------------------------------------------------------------------------------------------------
// One measured run of (a)-(c).

export interface Sample {
  perSecond: number
  /** Events accepted and delivered per second, warm-up included: accepted / (load time + drain). */
  endToEnd: number
  p50: number
  p99: number
  rss: number
  /**
   * Server CPU per delivered event, µs: all its threads (for nats3 the three gateways and nats-server together) from
   * the start of the load (warm-up included) until every accepted event was at its destination (the drain's end;
   * the load's end for the floor and Express, which write before answering), over all events accepted in that
   * span, each of them delivered (the check). Every event is counted whole, its accept and its delivery.
   */
  cpuPerEvent: number
  /**
   * The part of cpuPerEvent on the servers' main threads (where the JavaScript runs), µs; the rest is their other
   * threads: the file system work of Node's libuv pool and Bun's and Deno's own, the garbage collector's helpers.
   */
  mainCpuPerEvent: number
  /**
   * The part of cpuPerEvent on the other threads in the kernel, µs: the system calls they make for the main thread,
   * which for Node's libuv pool are the file system's work. The rest of the other threads' CPU is in user mode: on
   * Node, chiefly V8's helper threads (the garbage collector's marking and scavenging, the optimizing compiler).
   */
  otherKernelCpuPerEvent: number
  /** Load generator CPU, share of one core. */
  loadCpu: number
  /** Seconds after the load stopped until every accepted event was delivered (hookcast). */
  drain: number
  accepted: number
  /** Missing ones aside: bodies stored whose request was never seen answered 200 (counted only when some are missing). */
  unanswered: number
  /** Files that are no sent request's body (counted only when some are missing). */
  foreign: number
  /**
   * hookcast only: the events its log says it accepted, and how many of them it never logged as delivered (a loss,
   * where `missing` is not 0; none, with `missing` not 0, means the load generator mixed up answers).
   */
  logged?: { accepted: number; undelivered: number }
  missing: number
  /** Answers other than 200 over the whole load (warm-up included), by status. */
  refused: Record<string, number>
  /** Why hookcast refused hooks (its log, warm-up included), by reason; empty for the floor and Express. */
  reasons: Record<string, number>
  /** Connections the load generator had to open again (the server closed or reset them, or a request timed out), warm-up included. */
  reconnects: number
  /** Requests answered over the whole load, any status. */
  answered: number
  /** Connection errors and timeouts in the measured run. */
  errors: number
  /** µs to create a new file in the temp dir, measured just before the run (it varies a lot on some VMs). */
  createCost: number
  /** nats3: the part of cpuPerEvent that nats-server used, µs (NaN for the others). */
  natsCpuPerEvent: number
  /** CPU used during the measured run by everything on the machine but the servers and the load generator, cores. */
  othersCpu: number
  /** 1-minute load average at the end of the measured run. */
  loadAverage: number
}

/**
 * hookcast runs at its default settings (issue 15: "no 503 at default settings"): no `server:` section, so
 * server.maxBodyBytes is 16 MiB (far above (b)'s 1 MiB bodies) and server.maxInFlightBytes 4 x that, 64 MiB: (b)'s
 * 64 connections x 1 MiB hold exactly that much at once, so a request that overlaps one whose connection was just
 * reopened may get `503 busy` there. The config sets only what the benchmark must: the signing secret, the fs sink
 * and the spool in the run's temp dir, and whether the spool syncs (`fsync`, default false).
 */
const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * KiB
/** nats-server's `max_payload` for nats3: hookcast needs server.maxBodyBytes + 64 KiB of headers; 1 MiB above it. */
export const NATS_MAX_PAYLOAD = DEFAULT_MAX_BODY_BYTES + 1024 * KiB

/**
 * Writes `dir/config.yaml` for one hookcast run: the fs sink in `dir/data`, the spool in `dir/spool` (`extra` adds
 * to its settings) or `spool` as given, every hook routed to the sink; returns its path.
 */
export function hookcastConfig(dir: string, fsync: boolean, extra = '', spool?: string): string {
  const path = join(dir, 'config.yaml')
  writeFileSync(
    path,
    `
sources:
  millicast: { path: ${HOOK_PATH}, secrets: ["${SECRET}"] }
sinks:
  disk: { type: fs, dir: "${join(dir, 'data')}" }
spool: ${spool ?? `{ dir: "${join(dir, 'spool')}", fsync: ${fsync}${extra} }`}
routes:
  - to: [disk]
`,
  )
  return path
}

/** What a run drives: one receiver, or nats3's three gateways and their nats-server. */
interface Target {
  /** One URL per gateway. */
  urls: string[]
  /** Every process whose CPU and memory count as the server's. */
  pids: number[]
  /** nats3's nats-server (also in `pids`). */
  natsPid?: number
  servers: Server[]
  stop(): Promise<void>
}

async function launch(kind: ServerKind, dir: string, watch: string[] = []): Promise<Server> {
  const data = join(dir, 'data')
  mkdirSync(data, { recursive: true })
  if (isReference(kind)) return startServer(COMMANDS[kind], [], { DATA: data, SECRET })
  if (kind === 'nats3') throw new Error('nats3 is several processes: use launchTarget')
  const runtime: Runtime = kind === 'node-fsync' ? 'node' : kind
  return startServer(COMMANDS[runtime], ['--config', hookcastConfig(dir, kind === 'node-fsync')], {}, watch)
}

async function launchTarget(kind: ServerKind, dir: string): Promise<Target> {
  if (kind !== 'nats3') {
    const server = await launch(kind, dir)
    return { urls: [server.url], pids: [server.pid], servers: [server], stop: () => server.stop() }
  }
  mkdirSync(join(dir, 'data'), { recursive: true })
  const nats = await startNats(join(dir, 'nats'), NATS_MAX_PAYLOAD)
  const servers: Server[] = []
  const stop = async () => {
    await Promise.all(servers.map((server) => server.stop()))
    await nats.stop()
  }
  try {
    const config = hookcastConfig(dir, false, '', `{ type: nats, servers: ["${nats.url}"] }`)
    // One after the other: the first creates the streams, consumers and buckets, the others find them.
    for (let i = 0; i < 3; i++) servers.push(await startServer(COMMANDS.node, ['--config', config], {}))
  } catch (error) {
    await stop()
    throw error
  }
  return {
    urls: servers.map((server) => server.url),
    pids: [...servers.map((server) => server.pid), nats.pid],
    natsPid: nats.pid,
    servers,
    stop,
  }
}

/** The load of one measured run of `workload` against `url`, its result written to `out`. */
export function loadOptions(workload: Workload, options: Options, url: string | string[], out: string): LoadOptions {
  const { kind, size, connections } = workload
  return { url, kind, size, connections, warmupSeconds: options.warmup, seconds: options.duration, seqBase: 1, out }
}

export function runLoad(options: LoadOptions, onLine: (line: string) => void): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/load.ts', JSON.stringify(options)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => chunk.split('\n').filter(Boolean).forEach(onLine))
    const timer = setTimeout(() => child.kill('SIGKILL'), (options.warmupSeconds + options.seconds + 120) * 1000)
    child.once('exit', (code) => {
      clearTimeout(timer)
      if (code !== 0) return reject(new Error(`load generator exited with ${code}`))
      resolve(JSON.parse(readFileSync(options.out, 'utf8')) as LoadResult)
    })
  })
}

export async function runOne(workload: Workload, kind: ServerKind, options: Options): Promise<Sample> {
  const createCost = fileCreateCost()
  const dir = tempDir(`hookcast-bench-${workload.key}-${kind}-`)
  let target: Target | undefined
  try {
    target = await launchTarget(kind, dir.path)
    const { pids, servers } = target
    const serverCpu = () => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0)
    const mainCpu = () => servers.reduce((sum, server) => sum + cpuSeconds(server.pid, server.pid), 0)
    // The other threads' kernel time: the processes' kernel time less their main threads'.
    const otherKernel = () =>
      pids.reduce((sum, pid) => sum + cpuTimes(pid).kernel, 0) -
      servers.reduce((sum, server) => sum + cpuTimes(server.pid, server.pid).kernel, 0)
    let otherKernelStart = NaN
    let loadCpuStart = NaN
    let mainCpuStart = NaN
    let cpuStart = NaN
    let cpuEnd = NaN
    const natsPid = target.natsPid
    let natsCpu = NaN
    // The machine's busy CPU over the measured run, less ours (the servers, this orchestrator, the load generator):
    // what other work on the machine took meanwhile.
    let busyStart = NaN
    let busyEnd = NaN
    let ownStart = process.cpuUsage()
    let ownSeconds = NaN
    let wallStart = NaN
    let wallSeconds = NaN
    let loadAverage = NaN
    const url = target.urls.length === 1 ? target.urls[0]! : target.urls
    const result = await runLoad(loadOptions(workload, options, url, join(dir.path, 'load.json')), (line) => {
      if (line === 'load-start') {
        loadCpuStart = serverCpu()
        mainCpuStart = mainCpu()
        otherKernelStart = otherKernel()
        if (natsPid !== undefined) natsCpu = -cpuSeconds(natsPid)
      }
      if (line === 'measure-start') {
        cpuStart = serverCpu()
        busyStart = machineBusySeconds()
        ownStart = process.cpuUsage()
        wallStart = performance.now()
      }
      if (line === 'measure-end') {
        cpuEnd = serverCpu()
        busyEnd = machineBusySeconds()
        const own = process.cpuUsage(ownStart)
        ownSeconds = (own.user + own.system) / 1e6
        wallSeconds = (performance.now() - wallStart) / 1000
        loadAverage = loadavg()[0]!
      }
    })
    const loadEnded = performance.now()
    const delivered = () => servers.reduce((sum, server) => sum + server.delivered.count, 0)
    const lastDelivery = () => Math.max(...servers.map((server) => server.delivered.lastAt))
    let drain = 0
    if (!isReference(kind)) {
      // Accepted is only half the job: wait for every accepted event to be delivered, then a little quiet. Both
      // counts: the gateway's log (what it accepted, by id) and the load generator's (what it saw answered 200).
      // Where they disagree the check tells which one was wrong; 5 s after the load the gateway's is enough.
      const deadline = loadEnded + 180_000
      while (performance.now() < deadline) {
        const now = performance.now()
        const enough = delivered() >= result.accepted.length || now - loadEnded > 5_000
        if (enough && now - lastDelivery() > 300 && undelivered(servers) === 0) break
        await sleep(50)
      }
      drain = Math.max(0, (lastDelivery() - loadEnded) / 1000)
    }
    // Every accepted event is at its destination now (for hookcast, 300 ms after the last delivery: what it still
    // did for the events, such as their @streams delivery, counts too).
    const cpuAll = serverCpu() - loadCpuStart
    const cpuMain = mainCpu() - mainCpuStart
    const cpuOtherKernel = otherKernel() - otherKernelStart
    if (natsPid !== undefined) natsCpu += cpuSeconds(natsPid)
    const rss = pids.reduce((sum, pid) => sum + peakRss(pid), 0)
    const check = checkDelivered(join(dir.path, 'data'), result.accepted, bodyFactory(workload), {
      first: 1,
      count: result.sent,
    })
    const logged = isReference(kind)
      ? undefined
      : { accepted: servers.reduce((n, server) => n + server.acceptedIds.size, 0), undelivered: undelivered(servers) }
    return {
      perSecond: result.perSecond,
      endToEnd: result.accepted.length / (result.totalSeconds + drain),
      p50: result.p50,
      p99: result.p99,
      rss,
      cpuPerEvent: (cpuAll / Math.max(1, result.accepted.length)) * 1e6,
      mainCpuPerEvent: (cpuMain / Math.max(1, result.accepted.length)) * 1e6,
      otherKernelCpuPerEvent: (cpuOtherKernel / Math.max(1, result.accepted.length)) * 1e6,
      natsCpuPerEvent: (natsCpu / Math.max(1, result.accepted.length)) * 1e6,
      loadCpu: result.cpu,
      drain,
      accepted: check.accepted,
      missing: check.missing,
      unanswered: check.unanswered,
      foreign: check.foreign,
      logged,
      refused: Object.fromEntries(Object.entries(result.allStatuses).filter(([status]) => status !== '200')),
      reasons: sumCounts(servers.map((server) => server.refusals)),
      reconnects: result.reconnects,
      answered: Object.values(result.allStatuses).reduce((sum, n) => sum + n, 0),
      errors: result.errors + result.timeouts,
      createCost,
      othersCpu: Math.max(0, (busyEnd - busyStart - (cpuEnd - cpuStart) - ownSeconds) / wallSeconds - result.cpu),
      loadAverage,
    }
  } finally {
    await target?.stop()
    dir.release()
  }
}

// ---------------------------------------------------------------------------------------------------------------
// (d) Backlog: the spool holds N pending deliveries (as after a destination outage); hookcast restarts and drains.

/** Logged by the local queue once it has scanned its segments (src/backends/local/recovery.ts). */
const RECOVERED = 'queue recovered pending deliveries'

export interface BacklogSample {
  perSecond: number
  seconds: number
  rss: number
  missing: number
}

export async function runBacklog(runtime: Runtime, options: Options): Promise<BacklogSample> {
  const dir = tempDir(`hookcast-bench-d-${runtime}-`)
  let server: Server | undefined
  try {
    const size = 100 * KiB
    const seqs = await fillSpool(dir.path, options.backlog, size)
    mkdirSync(join(dir.path, 'data'))
    const config = hookcastConfig(dir.path, false, ', maxBytes: 64GiB')
    server = await startServer(COMMANDS[runtime], ['--config', config], {}, [RECOVERED])
    const deadline = performance.now() + 300_000
    while (server.delivered.count < seqs.length && performance.now() < deadline) await sleep(20)
    // Deliveries start when the queue is recovered, which is logged before "listening". Timing from "listening"
    // instead would leave out the deliveries made in between and overstate the rate: no silent fallback.
    const from = server.firstLine(RECOVERED)
    if (from === undefined) throw new Error(`the gateway never logged "${RECOVERED}": cannot time the drain`)
    const seconds = (server.delivered.lastAt - from) / 1000
    const rss = peakRss(server.pid)
    const check = checkDelivered(join(dir.path, 'data'), seqs, bodyFactory({ kind: 'thumbnail', size }))
    return { perSecond: server.delivered.count / seconds, seconds, rss, missing: check.missing }
  } finally {
    await server?.stop()
    dir.release()
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Cold start: from spawn to the first 200 on a signed request.

export interface ColdSample {
  listening: number
  firstOk: number
}

function postOnce(url: string, body: Buffer, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}${HOOK_PATH}`,
      { method: 'POST', headers: { ...headers, 'content-length': String(body.length) }, agent: false },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

export async function runCold(runtime: Runtime): Promise<ColdSample> {
  const dir = tempDir(`hookcast-bench-cold-${runtime}-`)
  let server: Server | undefined
  try {
    const { body, headers } = bodyFactory({ kind: 'json', size: 0 }).request(1)
    server = await launch(runtime, dir.path)
    const status = await postOnce(server.url, body, headers)
    const done = performance.now()
    if (status !== 200) throw new Error(`cold start: first answer was ${status}`)
    return { listening: server.listeningAt - server.spawnedAt, firstOk: done - server.spawnedAt }
  } finally {
    await server?.stop()
    dir.release()
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Idle memory: a receiver started with the benchmark's config (for hookcast: its defaults, the fs sink, an empty
// spool), left alone, its resident memory (VmRSS) read 3 s and 15 s after it listens. No request is sent.
// The two differ on Node: what the start allocated is returned by V8's memory reducer, which runs ~8 s after
// the last burst of allocation (a mark-compact marked "reduce" in --trace-gc), so 15 s is what an idle server
// holds from then on.

export const IDLE_SECONDS = 3
export const SETTLED_SECONDS = 15

/** Resident memory of an idle receiver, bytes: soon after it listens, and once settled. */
export interface IdleSample {
  early: number
  settled: number
}

export async function runIdle(kind: IdleKind): Promise<IdleSample> {
  const dir = tempDir(`hookcast-bench-idle-${kind}-`)
  let server: Server | undefined
  try {
    server = await launch(kind, dir.path)
    const readAt = async (seconds: number) => {
      await sleep(Math.max(0, server!.listeningAt + seconds * 1000 - performance.now()))
      const rss = currentRss(server!.pid)
      if (!Number.isFinite(rss)) throw new Error(`${kind} exited while idle:\n${server!.logTail().join('\n')}`)
      return rss
    }
    const early = await readAt(IDLE_SECONDS)
    return { early, settled: await readAt(SETTLED_SECONDS) }
  } finally {
    await server?.stop()
    dir.release()
  }
}

/** bench/pipeline.ts's figures: hookcast's own main-thread work per event (queue put, two deliveries), no HTTP. */
export interface PipelineSample {
  kind: BodyKind
  events: number
  /** Main-thread CPU per event, µs, one per repeat. */
  mainUs: number[]
  perSecond: number[]
}

/** Runs bench/pipeline.ts in a process of its own (the gateway's modules and heap apart from the runner's). */
export function runPipeline(kind: BodyKind, events: number, repeats: number): Promise<PipelineSample> {
  return new Promise((resolve, reject) => {
    const args = [
      '--import',
      'tsx',
      'bench/pipeline.ts',
      '--kind',
      kind,
      '--events',
      String(events),
      '--repeats',
      String(repeats),
      '--json',
    ]
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
    })
    child.once('error', reject)
    child.once('exit', (code) => {
      try {
        if (code !== 0) throw new Error(`bench/pipeline.ts exited with ${code}`)
        resolve(JSON.parse(out.trim().split('\n').at(-1)!) as PipelineSample)
      } catch (error) {
        reject(error)
      }
    })
  })
}
