/**
 * `npm run bench [-- --quick] [-- --only a,b,c,d,cold] [-- --servers floor,express,node,deno,bun,node-fsync]
 *   [-- --repeats N --duration S --warmup S --backlog N --backlog-repeats N --cold-starts N --out FILE]`
 *
 * Runs, in one go on this machine, the floor receiver (node:http + HMAC + file), the usual Express receiver and
 * hookcast on Node, Deno and Bun (fs sink, durable spool; once more with fsync), drives each with autocannon in a
 * separate process sending distinct signed hooks, checks that every accepted event reached its destination byte for
 * byte, and writes medians of the repeats, with hookcast's figures as ratios to the floor, to bench/results.md.
 * @module
 */
import { spawn } from 'node:child_process'
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { request } from 'node:http'
import { performance } from 'node:perf_hooks'
import { bodyFactory, HOOK_PATH, SECRET, type BodyKind } from './bodies.ts'
import type { LoadOptions, LoadResult } from './load.ts'
import { checkDelivered, COMMANDS, cpuSeconds, fileCreateCost, median, removeTempDirs, peakRss, ROOT, sleep, startServer, tempDir, type Server } from './lib.ts'
import { fillSpool } from './backlog.ts'

// ---------------------------------------------------------------------------------------------------------------
// What runs.

type ServerKind = 'floor' | 'express' | 'node' | 'deno' | 'bun' | 'node-fsync'
type Runtime = 'node' | 'deno' | 'bun'

const LABELS: Record<ServerKind, string> = {
  floor: 'floor (node:http, HMAC, write)',
  express: 'Express + raw body parser',
  node: 'hookcast on Node',
  deno: 'hookcast on Deno',
  bun: 'hookcast on Bun',
  'node-fsync': 'hookcast on Node, fsync: true',
}

interface Workload {
  key: 'a' | 'b' | 'c'
  title: string
  kind: BodyKind
  size: number
  connections: number
  servers: ServerKind[]
}

const KiB = 1024
const WORKLOADS: Workload[] = [
  { key: 'a', title: '(a) 100 KB JPEG thumbnails, 32 connections', kind: 'thumbnail', size: 100 * KiB, connections: 32, servers: ['floor', 'express', 'node', 'deno', 'bun', 'node-fsync'] },
  { key: 'b', title: '(b) 1 MB JPEG thumbnails, 64 connections', kind: 'thumbnail', size: 1024 * KiB, connections: 64, servers: ['floor', 'express', 'node', 'deno', 'bun'] },
  { key: 'c', title: '(c) feeds JSON events, 64 connections', kind: 'json', size: 0, connections: 64, servers: ['floor', 'express', 'node', 'deno', 'bun', 'node-fsync'] },
]
const RUNTIMES: Runtime[] = ['node', 'deno', 'bun']

interface Options {
  quick: boolean
  only: Set<string>
  servers: Set<string> | undefined
  repeats: number
  duration: number
  warmup: number
  backlog: number
  backlogRepeats: number
  coldStarts: number
  out: string | undefined
}

function parseArgs(argv: string[]): Options {
  const value = (name: string) => {
    const index = argv.indexOf(`--${name}`)
    return index >= 0 ? argv[index + 1] : undefined
  }
  const quick = argv.includes('--quick')
  const number = (name: string, full: number, fast: number) => Number(value(name) ?? (quick ? fast : full))
  return {
    quick,
    only: new Set((value('only') ?? 'a,b,c,d,cold').split(',')),
    servers: value('servers') ? new Set(value('servers')!.split(',')) : undefined,
    repeats: number('repeats', 3, 1),
    duration: number('duration', 5, 3),
    warmup: number('warmup', 1, 1),
    backlog: number('backlog', 20_000, 5_000),
    backlogRepeats: number('backlog-repeats', 1, 1),
    coldStarts: number('cold-starts', 5, 2),
    out: value('out') ?? (quick ? undefined : join(ROOT, 'bench/results.md')),
  }
}

// ---------------------------------------------------------------------------------------------------------------
// One measured run.

interface Sample {
  perSecond: number
  /** Events accepted and delivered per second, warm-up included: accepted / (load time + drain). */
  endToEnd: number
  p50: number
  p99: number
  rss: number
  /** Server CPU per accepted event, µs (all its threads). */
  cpuPerEvent: number
  /** Load generator CPU, share of one core. */
  loadCpu: number
  /** Seconds after the load stopped until every accepted event was delivered (hookcast). */
  drain: number
  accepted: number
  missing: number
  /** Answers other than 200 in the measured run, by status. */
  refused: Record<string, number>
  /** Connections the server closed or reset (reopened by the load generator), and requests timed out. */
  reconnects: number
  /** µs to create a new file in the temp dir, measured just before the run (it varies a lot on some VMs). */
  createCost: number
}

function hookcastConfig(dir: string, fsync: boolean, extra = ''): string {
  const path = join(dir, 'config.yaml')
  writeFileSync(path, `
server: { maxBodyBytes: 16MiB }
sources:
  millicast: { path: ${HOOK_PATH}, secrets: ["${SECRET}"] }
sinks:
  disk: { type: fs, dir: "${join(dir, 'data')}" }
spool: { dir: "${join(dir, 'spool')}", fsync: ${fsync}${extra} }
routes:
  - to: [disk]
`)
  return path
}

async function launch(kind: ServerKind, dir: string, watch: string[] = []): Promise<Server> {
  const data = join(dir, 'data')
  mkdirSync(data, { recursive: true })
  if (kind === 'floor' || kind === 'express') return startServer(COMMANDS[kind], [], { DATA: data, SECRET })
  const runtime: Runtime = kind === 'node-fsync' ? 'node' : kind
  return startServer(COMMANDS[runtime], ['--config', hookcastConfig(dir, kind === 'node-fsync')], {}, watch)
}

function runLoad(options: LoadOptions, onLine: (line: string) => void): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/load.ts', JSON.stringify(options)], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'],
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

async function runOne(workload: Workload, kind: ServerKind, options: Options): Promise<Sample> {
  const createCost = fileCreateCost()
  const dir = tempDir(`hookcast-bench-${workload.key}-${kind}-`)
  let server: Server | undefined
  try {
    server = await launch(kind, dir.path)
    const pid = server.pid
    let cpuStart = NaN
    let cpuEnd = NaN
    const result = await runLoad({
      url: server.url, kind: workload.kind, size: workload.size, connections: workload.connections,
      warmupSeconds: options.warmup, seconds: options.duration, seqBase: 1, out: join(dir.path, 'load.json'),
    }, (line) => {
      if (line === 'measure-start') cpuStart = cpuSeconds(pid)
      if (line === 'measure-end') cpuEnd = cpuSeconds(pid)
    })
    const loadEnded = performance.now()
    let drain = 0
    if (kind !== 'floor' && kind !== 'express') {
      // Accepted is only half the job: wait for every accepted event to be delivered, then a little quiet.
      const deadline = loadEnded + 180_000
      while (performance.now() < deadline) {
        if (server.delivered.count >= result.accepted.length && performance.now() - server.delivered.lastAt > 300) break
        await sleep(50)
      }
      drain = Math.max(0, (server.delivered.lastAt - loadEnded) / 1000)
    }
    const rss = peakRss(pid)
    const check = checkDelivered(join(dir.path, 'data'), result.accepted, bodyFactory(workload))
    return {
      perSecond: result.perSecond,
      endToEnd: result.accepted.length / (result.totalSeconds + drain),
      p50: result.p50,
      p99: result.p99,
      rss,
      cpuPerEvent: ((cpuEnd - cpuStart) / Math.max(1, result.ok)) * 1e6,
      loadCpu: result.cpu,
      drain,
      accepted: check.accepted,
      missing: check.missing,
      refused: Object.fromEntries(Object.entries(result.statuses).filter(([status]) => status !== '200')),
      reconnects: result.errors + result.timeouts,
      createCost,
    }
  } finally {
    await server?.stop()
    dir.release()
  }
}

// ---------------------------------------------------------------------------------------------------------------
// (d) Backlog: the spool holds N pending deliveries (as after a destination outage); hookcast restarts and drains.

interface BacklogSample {
  perSecond: number
  seconds: number
  rss: number
  missing: number
}

async function runBacklog(runtime: Runtime, options: Options): Promise<BacklogSample> {
  const dir = tempDir(`hookcast-bench-d-${runtime}-`)
  let server: Server | undefined
  try {
    const size = 100 * KiB
    const seqs = await fillSpool(dir.path, options.backlog, size)
    mkdirSync(join(dir.path, 'data'))
    const config = hookcastConfig(dir.path, false, ', maxBytes: 64GiB')
    server = await startServer(COMMANDS[runtime], ['--config', config], {}, ['spool recovered pending deliveries'])
    const deadline = performance.now() + 300_000
    while (server.delivered.count < seqs.length && performance.now() < deadline) await sleep(20)
    // Deliveries start when the spool is recovered, which is logged before "listening".
    const from = server.firstLine('spool recovered pending deliveries') ?? server.listeningAt
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

interface ColdSample {
  listening: number
  firstOk: number
}

function postOnce(url: string, body: Buffer, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${HOOK_PATH}`, { method: 'POST', headers: { ...headers, 'content-length': String(body.length) }, agent: false }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    req.end(body)
  })
}

async function runCold(runtime: Runtime): Promise<ColdSample> {
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
// Report.

const fmt = (value: number, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a')
const ratio = (value: number, floor: number) => (Number.isFinite(value / floor) ? `${(value / floor).toFixed(2)}x` : 'n/a')
const mb = (bytes: number) => fmt(bytes / 1024 / 1024)

interface Medians extends Omit<Sample, 'refused'> { runs: number; missingTotal: number; refused: Record<string, number> }

function medians(samples: Sample[]): Medians {
  const m = (pick: (s: Sample) => number) => median(samples.map(pick))
  return {
    perSecond: m((s) => s.perSecond), endToEnd: m((s) => s.endToEnd), p50: m((s) => s.p50), p99: m((s) => s.p99), rss: m((s) => s.rss),
    cpuPerEvent: m((s) => s.cpuPerEvent), loadCpu: m((s) => s.loadCpu), drain: m((s) => s.drain),
    accepted: samples.reduce((n, s) => n + s.accepted, 0), missing: m((s) => s.missing), refused: sumCounts(samples.map((s) => s.refused)),
    reconnects: m((s) => s.reconnects), createCost: m((s) => s.createCost),
    runs: samples.length, missingTotal: samples.reduce((n, s) => n + s.missing, 0),
  }
}

function sumCounts(counts: Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const count of counts) for (const [key, n] of Object.entries(count)) out[key] = (out[key] ?? 0) + n
  return out
}

function describeRefused(refused: Record<string, number>): string {
  const parts = Object.entries(refused).map(([status, n]) => `${n} x ${status}`)
  return parts.length ? `, refused ${parts.join(', ')}` : ''
}

function version(command: string[], pattern: RegExp): string {
  try {
    return pattern.exec(execFileSync(command[0]!, command.slice(1), { encoding: 'utf8' }))?.[1] ?? '?'
  } catch {
    return '?'
  }
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2))
  const started = new Date()
  const load = loadavg()
  const machine = [
    `- Date: ${started.toISOString()}`,
    `- Machine: ${cpus()[0]?.model ?? '?'}, ${cpus().length} cores, ${(totalmem() / 1024 ** 3).toFixed(0)} GB RAM, Linux ${release()}; load average at start ${load.map((x) => x.toFixed(2)).join(' ')}`,
    `- Runtimes: Node ${process.version}, Deno ${version([COMMANDS.deno[0], '--version'], /deno (\S+)/)}, Bun ${version([COMMANDS.bun[0], '--version'], /(\S+)/)}; ` +
      `load generator autocannon ${JSON.parse(readFileSync(join(ROOT, 'node_modules/autocannon/package.json'), 'utf8')).version} in its own Node process`,
    `- File system: temp dirs under ${tmpdir()}; creating one new file there takes ${fmt(fileCreateCost())} µs ` +
      '(every receiver here creates at least one file per event, so this bounds them all)',
    `- Settings: ${options.repeats} repeat(s) of (a)-(c) in rotation, ${options.warmup} s warm-up + ${options.duration} s measured per run; ` +
      `(d) ${options.backlogRepeats} time(s) per runtime; ${options.coldStarts} cold starts per runtime; medians reported${options.quick ? ' (--quick)' : ''}`,
  ]
  console.log(machine.join('\n'))

  const results = new Map<string, Sample[]>() // `${workload}/${server}`
  const workloads = WORKLOADS.filter((w) => options.only.has(w.key))
  const backlog: Record<string, BacklogSample[]> = {}
  const cold: Record<string, ColdSample[]> = {}

  for (let rep = 1; rep <= options.repeats; rep++) {
    for (const workload of workloads) {
      for (const kind of workload.servers.filter((s) => !options.servers || options.servers.has(s))) {
        const label = `[${rep}/${options.repeats}] ${workload.key} ${kind}`
        try {
          const sample = await runOne(workload, kind, options)
          const key = `${workload.key}/${kind}`
          results.set(key, [...(results.get(key) ?? []), sample])
          console.log(`${label}: ${fmt(sample.perSecond)}/s (end to end ${fmt(sample.endToEnd)}/s) p50 ${fmt(sample.p50, 1)} ms p99 ${fmt(sample.p99, 1)} ms rss ${mb(sample.rss)} MB ` +
            `cpu ${fmt(sample.cpuPerEvent)} µs/event, file create ${fmt(sample.createCost)} µs, loadgen ${fmt(sample.loadCpu * 100)}% cpu, drain ${fmt(sample.drain, 1)} s, ` +
            `check ${sample.accepted - sample.missing}/${sample.accepted}${describeRefused(sample.refused)}${sample.reconnects ? `, ${sample.reconnects} reconnects` : ''}`)
        } catch (error) {
          console.log(`${label}: FAILED ${(error as Error).message}`)
        }
      }
    }
    if (options.only.has('d') && rep <= options.backlogRepeats) {
      for (const runtime of RUNTIMES.filter((r) => !options.servers || options.servers.has(r))) {
        try {
          const sample = await runBacklog(runtime, options)
          ;(backlog[runtime] ??= []).push(sample)
          console.log(`[${rep}/${options.repeats}] d ${runtime}: ${options.backlog} deliveries in ${fmt(sample.seconds, 2)} s = ${fmt(sample.perSecond)}/s, rss ${mb(sample.rss)} MB, missing ${sample.missing}`)
        } catch (error) {
          console.log(`[${rep}/${options.repeats}] d ${runtime}: FAILED ${(error as Error).message}`)
        }
      }
    }
  }
  if (options.only.has('cold')) {
    for (let i = 0; i < options.coldStarts; i++) {
      for (const runtime of RUNTIMES.filter((r) => !options.servers || options.servers.has(r))) {
        try {
          const sample = await runCold(runtime)
          ;(cold[runtime] ??= []).push(sample)
          console.log(`cold ${runtime}: listening after ${fmt(sample.listening)} ms, first 200 after ${fmt(sample.firstOk)} ms`)
        } catch (error) {
          console.log(`cold ${runtime}: FAILED ${(error as Error).message}`)
        }
      }
    }
  }

  const lines = ['# hookcast benchmark results', '', ...machine, `- Wall time: ${((Date.now() - started.getTime()) / 60_000).toFixed(1)} min`, '']
  lines.push(
    'Each row is the median of the repeats; ratios are to the floor measured in the same run.',
    '',
    '- **accepted/s**: answers `200` per second during the measured run (the issue\'s throughput figure). hookcast',
    '  answers once an event is in its spool and delivers after the answer; the floor and Express write the file',
    '  before answering.',
    '- **end to end/s**: events accepted *and* at their destination per second: all accepted events (warm-up included)',
    '  over the load time plus the **drain** (how long hookcast still delivered after the load stopped).',
    '- **CPU/event**: the server\'s CPU time, all threads, per accepted event during the measured run.',
    '- **check**: accepted events found at the destination byte for byte (all repeats); refusals by status;',
    '  "reconnects" are connections the server closed (Deno 2.9.x closes keep-alive after any request body over',
    '  ~1 KB: denoland/deno#36657, fixed by #36690, not released yet), which autocannon reopens.',
    '- hookcast delivers each thumbnail and feed event twice: to the fs sink and to its stream tracker (live/ended',
    '  alerts), each with its own spool record; a 503 means the spool reached `spool.maxBytes` (1 GiB) because',
    '  deliveries fell behind the accepts.',
    '- **loadgen CPU**: autocannon runs in its own process on the same 2 cores as the server.',
    '- **file create µs**: the cost of creating a new file in the temp dir just before the run. Every receiver creates',
    '  at least one file per event. On ext4 without a journal, inodes deleted in the last minutes are skipped (and',
    '  checked one by one) when new ones are allocated, so after a mass deletion a create can cost ~1 ms of kernel',
    '  time: the benchmark therefore empties finished runs\' files but deletes them only at the end.',
    '',
  )
  const targets: string[] = []
  const get = (w: string, s: ServerKind) => (results.get(`${w}/${s}`) ? medians(results.get(`${w}/${s}`)!) : undefined)
  for (const workload of workloads) {
    const floor = get(workload.key, 'floor')
    lines.push(`## ${workload.title}`, '')
    lines.push('| receiver | accepted/s | vs floor | end to end/s | vs floor | p50 ms | p99 ms | p99 vs floor | peak RSS MB | CPU/event µs | drain s | check | loadgen CPU | file create µs |')
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|')
    for (const kind of workload.servers) {
      const m = get(workload.key, kind)
      if (!m) continue
      const check = m.missingTotal === 0 ? `ok ${m.accepted}/${m.accepted}` : `**FAIL ${m.missingTotal} missing** of ${m.accepted}`
      lines.push(`| ${LABELS[kind]} | ${fmt(m.perSecond)} | ${floor ? ratio(m.perSecond, floor.perSecond) : 'n/a'} | ` +
        `${fmt(m.endToEnd)} | ${floor ? ratio(m.endToEnd, floor.endToEnd) : 'n/a'} | ${fmt(m.p50, 2)} | ${fmt(m.p99, 2)} | ` +
        `${floor ? ratio(m.p99, floor.p99) : 'n/a'} | ${mb(m.rss)} | ${fmt(m.cpuPerEvent)} | ${kind === 'floor' || kind === 'express' ? '-' : fmt(m.drain, 1)} | ${check}${describeRefused(m.refused)}${m.reconnects ? `, ${fmt(m.reconnects)} reconnects` : ''} | ${fmt(m.loadCpu * 100)}% | ${fmt(m.createCost)} |`)
    }
    lines.push('')
  }
  if (Object.keys(backlog).length > 0) {
    lines.push(`## (d) Backlog: ${options.backlog} pending deliveries of 100 KB thumbnails drained to the fs sink after a restart`, '')
    lines.push('| runtime | deliveries/s | seconds | peak RSS MB | check |', '|---|---:|---:|---:|---|')
    for (const [runtime, samples] of Object.entries(backlog)) {
      const missing = samples.reduce((n, s) => n + s.missing, 0)
      lines.push(`| hookcast on ${runtime} | ${fmt(median(samples.map((s) => s.perSecond)))} | ${fmt(median(samples.map((s) => s.seconds)), 2)} | ` +
        `${mb(median(samples.map((s) => s.rss)))} | ${missing === 0 ? 'ok' : `**FAIL ${missing} missing**`} |`)
    }
    lines.push('', 'Timed from the spool\'s recovery (logged at start, after the scan of the segments) to the last delivery.', '')
  }
  if (Object.keys(cold).length > 0) {
    lines.push('## Cold start', '', '| runtime | spawn to listening ms | spawn to first 200 ms |', '|---|---:|---:|')
    for (const [runtime, samples] of Object.entries(cold)) {
      lines.push(`| hookcast on ${runtime} | ${fmt(median(samples.map((s) => s.listening)))} | ${fmt(median(samples.map((s) => s.firstOk)))} |`)
    }
    lines.push('')
  }

  // Targets (issue 4): reported, not asserted.
  const verdict = (ok: boolean | undefined) => (ok === undefined ? 'not measured' : ok ? 'met' : '**missed**')
  const a = { floor: get('a', 'floor'), express: get('a', 'express'), node: get('a', 'node'), deno: get('a', 'deno'), bun: get('a', 'bun'), fsync: get('a', 'node-fsync') }
  const rel = (x: Medians | undefined, y: Medians | undefined, pick: (m: Medians) => number) => (x && y ? pick(x) / pick(y) : NaN)
  const known = (value: number) => (Number.isFinite(value) ? value : undefined)
  const atLeast = (value: number, bound: number) => (known(value) === undefined ? undefined : value >= bound)
  const atMost = (value: number, bound: number) => (known(value) === undefined ? undefined : value <= bound)
  const tput = (m: Medians) => m.perSecond
  const t = (text: string, value: string, ok: boolean | undefined) => targets.push(`| ${text} | ${value} | ${verdict(ok)} |`)
  const x = (value: number) => (Number.isFinite(value) ? `${value.toFixed(2)}x` : 'n/a')
  t('(a) Node ≥ 0.8x floor throughput', x(rel(a.node, a.floor, tput)), atLeast(rel(a.node, a.floor, tput), 0.8))
  t('(a) Node ≥ 1.3x Express', x(rel(a.node, a.express, tput)), atLeast(rel(a.node, a.express, tput), 1.3))
  t('(a) Deno ≥ Node', x(rel(a.deno, a.node, tput)), atLeast(rel(a.deno, a.node, tput), 1))
  t('(a) Bun ≥ Node', x(rel(a.bun, a.node, tput)), atLeast(rel(a.bun, a.node, tput), 1))
  for (const runtime of RUNTIMES) {
    const value = rel(a[runtime], a.floor, (m) => m.p99)
    t(`(a) p99 on ${runtime} ≤ 1.5x floor p99`, x(value), atMost(value, 1.5))
  }
  for (const runtime of RUNTIMES) {
    const m = get('b', runtime)
    t(`(b) peak RSS on ${runtime} ≤ 150 MB`, m ? `${mb(m.rss)} MB` : 'n/a', m ? m.rss <= 150 * 1024 * 1024 : undefined)
  }
  for (const runtime of RUNTIMES) {
    const value = rel(get('c', runtime), get('c', 'floor'), tput)
    t(`(c) ${runtime} ≥ 0.7x floor`, x(value), atLeast(value, 0.7))
  }
  for (const w of ['a', 'c']) {
    const value = rel(get(w, 'node-fsync'), get(w, 'floor'), tput)
    t(`(${w}) fsync: true ≥ 0.5x floor`, x(value), atLeast(value, 0.5))
  }
  for (const runtime of RUNTIMES) {
    const value = backlog[runtime] ? median(backlog[runtime].map((s) => s.perSecond)) : NaN
    t(`(d) backlog on ${runtime} ≥ 2,000/s`, Number.isFinite(value) ? `${fmt(value)}/s` : 'n/a', atLeast(value, 2000))
  }
  for (const runtime of RUNTIMES) {
    const value = cold[runtime] ? median(cold[runtime].map((s) => s.firstOk)) : NaN
    const bound = runtime === 'node' ? 1000 : 300
    t(`cold start on ${runtime} ≤ ${bound} ms`, Number.isFinite(value) ? `${fmt(value)} ms` : 'n/a', atMost(value, bound))
  }
  const checks = [...results.values()].flat().reduce((n, s) => n + s.missing, 0) + Object.values(backlog).flat().reduce((n, s) => n + s.missing, 0)
  t('every accepted event at its destination, byte for byte', `${checks} missing`, checks === 0)
  lines.push('## Targets', '', '| target | measured | |', '|---|---:|---|', ...targets, '')

  const report = lines.join('\n')
  console.log(`\n${report}`)
  if (options.out) {
    writeFileSync(options.out, report)
    console.log(`written to ${options.out}`)
  }
  const removing = performance.now()
  const count = removeTempDirs()
  console.log(`removed ${count} temp dirs in ${((performance.now() - removing) / 1000).toFixed(1)} s`)
}

await main()
