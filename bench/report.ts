/**
 * The report: medians of the repeats, hookcast's figures as ratios to the floor of the same run, the progress
 * lines printed as each run ends, and the markdown of bench/results.md (machine, tables, targets).
 * @module
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { COMMANDS, fileCreateCost, median, ROOT, sumCounts } from './lib.ts'
import type { Options } from './options.ts'
import { natsVersion } from './nats.ts'
import { RUNTIMES, type BacklogSample, type ColdSample, type Sample, type ServerKind, type Workload } from './scenarios.ts'

const LABELS: Record<ServerKind, string> = {
  floor: 'floor (node:http, HMAC, write)',
  express: 'Express + raw body parser',
  node: 'hookcast on Node',
  deno: 'hookcast on Deno',
  bun: 'hookcast on Bun',
  'node-fsync': 'hookcast on Node, fsync: true',
  nats3: '3 x hookcast on Node, one NATS JetStream',
}

export const fmt = (value: number, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a')
const ratio = (value: number, floor: number) => (Number.isFinite(value / floor) ? `${(value / floor).toFixed(2)}x` : 'n/a')
export const mb = (bytes: number) => fmt(bytes / 1024 / 1024)

interface Medians extends Sample { runs: number; missingTotal: number }

function medians(samples: Sample[]): Medians {
  const m = (pick: (s: Sample) => number) => median(samples.map(pick))
  return {
    perSecond: m((s) => s.perSecond), endToEnd: m((s) => s.endToEnd), p50: m((s) => s.p50), p99: m((s) => s.p99), rss: m((s) => s.rss),
    cpuPerEvent: m((s) => s.cpuPerEvent), loadCpu: m((s) => s.loadCpu), drain: m((s) => s.drain),
    accepted: samples.reduce((n, s) => n + s.accepted, 0), missing: m((s) => s.missing), refused: sumCounts(samples.map((s) => s.refused)),
    reasons: sumCounts(samples.map((s) => s.reasons)),
    reconnects: m((s) => s.reconnects), createCost: m((s) => s.createCost), othersCpu: m((s) => s.othersCpu), natsCpuPerEvent: m((s) => s.natsCpuPerEvent), loadAverage: m((s) => s.loadAverage),
    runs: samples.length, missingTotal: samples.reduce((n, s) => n + s.missing, 0),
  }
}

/** `, refused 8298 x 503 (spool_unavailable)`: by status in the measured run, then the reasons hookcast logged. */
function describeRefused(refused: Record<string, number>, reasons: Record<string, number>): string {
  const parts = Object.entries(refused).map(([status, n]) => `${n} x ${status}`)
  const why = Object.entries(reasons).sort((x, y) => y[1] - x[1]).map(([reason]) => reason)
  return parts.length ? `, refused ${parts.join(', ')}${why.length ? ` (${why.join(', ')})` : ''}` : ''
}

function version(command: string[], pattern: RegExp): string {
  try {
    return pattern.exec(execFileSync(command[0]!, command.slice(1), { encoding: 'utf8' }))?.[1] ?? '?'
  } catch {
    return '?'
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Printed as the benchmark goes.

/** The machine, runtimes, file system and settings: printed first, and the head of the report. */
export function describeMachine(options: Options, started: Date): string[] {
  const load = loadavg()
  return [
    `- Date: ${started.toISOString()}`,
    `- Machine: ${cpus()[0]?.model ?? '?'}, ${cpus().length} cores, ${(totalmem() / 1024 ** 3).toFixed(0)} GB RAM, Linux ${release()}; load average at start ${load.map((x) => x.toFixed(2)).join(' ')}`,
    `- Runtimes: Node ${process.version}, Deno ${version([COMMANDS.deno[0], '--version'], /deno (\S+)/)}, Bun ${version([COMMANDS.bun[0], '--version'], /(\S+)/)}` +
      `${!options.servers || options.servers.has('nats3') ? `, nats-server ${natsVersion()}` : ''}; load generator autocannon ${JSON.parse(readFileSync(join(ROOT, 'node_modules/autocannon/package.json'), 'utf8')).version} in its own Node process`,
    `- File system: temp dirs under ${tmpdir()}; creating one new file there takes ${fmt(fileCreateCost())} µs ` +
      '(every receiver here creates at least one file per event, so this bounds them all)',
    `- Settings: ${options.repeats} repeat(s) of (a)-(c) in rotation, ${options.warmup} s warm-up + ${options.duration} s measured per run; ` +
      `(d) ${options.backlogRepeats} time(s) per runtime; ${options.coldStarts} cold starts per runtime; medians reported${options.quick ? ' (--quick)' : ''}`,
  ]
}

/** One run of (a)-(c), as printed when it ends. */
export function sampleLine(label: string, sample: Sample): string {
  return `${label}: ${fmt(sample.perSecond)}/s (end to end ${fmt(sample.endToEnd)}/s) p50 ${fmt(sample.p50, 1)} ms p99 ${fmt(sample.p99, 1)} ms rss ${mb(sample.rss)} MB ` +
    `cpu ${fmt(sample.cpuPerEvent)} µs/event${Number.isFinite(sample.natsCpuPerEvent) ? ` (nats-server ${fmt(sample.natsCpuPerEvent)})` : ''}, file create ${fmt(sample.createCost)} µs, loadgen ${fmt(sample.loadCpu * 100)}% cpu, drain ${fmt(sample.drain, 1)} s, ` +
    `check ${sample.accepted - sample.missing}/${sample.accepted}${describeRefused(sample.refused, sample.reasons)}${sample.reconnects ? `, ${sample.reconnects} reconnects` : ''}; ` +
    `machine: others used ${fmt(sample.othersCpu, 2)} cores, load average ${fmt(sample.loadAverage, 2)}`
}

// ---------------------------------------------------------------------------------------------------------------
// bench/results.md.

export interface Results {
  options: Options
  started: Date
  machine: string[]
  workloads: Workload[]
  /** Samples of (a)-(c) by `${workload}/${server}`. */
  results: Map<string, Sample[]>
  backlog: Record<string, BacklogSample[]>
  cold: Record<string, ColdSample[]>
}

const LEGEND = [
  'Each row is the median of the repeats; ratios are to the floor measured in the same run.',
  '',
  '- **accepted/s**: answers `200` per second during the measured run (the issue\'s throughput figure). hookcast',
  '  answers once an event is in its spool and delivers after the answer; the floor and Express write the file',
  '  before answering.',
  '- **end to end/s**: events accepted *and* at their destination per second: all accepted events (warm-up included)',
  '  over the load time plus the **drain** (how long hookcast still delivered after the load stopped).',
  '- **CPU/event**: the server\'s CPU time, all threads, per accepted event during the measured run.',
  '- **check**: accepted events found at the destination byte for byte (all repeats); refusals by status, then in',
  '  brackets the reasons hookcast logged for them (`spool_unavailable`: the spool is full; `busy`: server.maxInFlightBytes);',
  '  "reconnects" are connections the server closed (Deno 2.9.x closes keep-alive after any request body over',
  '  ~1 KB: denoland/deno#36657, fixed by #36690, not released yet), which autocannon reopens.',
  '- hookcast delivers each thumbnail and feed event twice: to the fs sink and to its stream tracker (live/ended',
  '  alerts), two deliveries of one queued event; a 503 `spool_unavailable` means the spool reached `spool.maxBytes`',
  '  (1 GiB) because deliveries fell behind the accepts. hookcast runs with `server.maxInFlightBytes: 256MiB`: the',
  '  default, 64 MiB, is exactly what (b)\'s 64 x 1 MiB hold at once, and any overlap was a `503 busy`.',
  '- **loadgen CPU**: autocannon runs in its own process on the same 2 cores as the server.',
  '- **3 x hookcast on Node, one NATS JetStream** (`nats3`): three gateways with `spool: { type: nats }` (queue and',
  '  stream state in JetStream and NATS KV) sharing one local nats-server (JetStream file store, `max_payload` 17 MiB)',
  '  and one fs sink directory; autocannon spreads its connections evenly over the three (connection i to instance',
  '  i mod 3). Everything runs on the same machine, so this measures the cost of the shared queue, not added',
  '  machines. Peak RSS and CPU/event add up the three gateways and nats-server.',
  '- **file create µs**: the cost of creating a new file in the temp dir just before the run. Every receiver creates',
  '  at least one file per event. On ext4 without a journal, inodes deleted in the last minutes are skipped (and',
  '  checked one by one) when new ones are allocated, so after a mass deletion a create can cost ~1 ms of kernel',
  '  time: the benchmark therefore empties finished runs\' files but deletes them only at the end.',
  '',
]

/** The whole report, as markdown. */
export function renderReport({ options, started, machine, workloads, results, backlog, cold }: Results): string {
  const lines = ['# hookcast benchmark results', '', ...machine, `- Wall time: ${((Date.now() - started.getTime()) / 60_000).toFixed(1)} min`, '']
  lines.push(...LEGEND)
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
        `${floor ? ratio(m.p99, floor.p99) : 'n/a'} | ${mb(m.rss)} | ${fmt(m.cpuPerEvent)} | ${kind === 'floor' || kind === 'express' ? '-' : fmt(m.drain, 1)} | ${check}${describeRefused(m.refused, m.reasons)}${m.reconnects ? `, ${fmt(m.reconnects)} reconnects` : ''} | ${fmt(m.loadCpu * 100)}% | ${fmt(m.createCost)} |`)
    }
    lines.push('')
  }
  const pairs = workloads.map((w) => ({ w, local: get(w.key, 'node'), nats: get(w.key, 'nats3') })).filter((p) => p.local && p.nats)
  if (pairs.length > 0) {
    lines.push('## Three instances on NATS against one local instance (both on Node)', '')
    lines.push('| workload | 1 x local accepted/s | 3 x NATS accepted/s | ratio | 1 x local end to end/s | 3 x NATS end to end/s | ratio |', '|---|---:|---:|---:|---:|---:|---:|')
    for (const { w, local, nats } of pairs) {
      lines.push(`| ${w.title} | ${fmt(local!.perSecond)} | ${fmt(nats!.perSecond)} | ${ratio(nats!.perSecond, local!.perSecond)} | ` +
        `${fmt(local!.endToEnd)} | ${fmt(nats!.endToEnd)} | ${ratio(nats!.endToEnd, local!.endToEnd)} |`)
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
    lines.push('', 'Timed from the queue\'s recovery (logged at start, after the scan of the segments) to the last delivery.', '')
  }
  if (Object.keys(cold).length > 0) {
    lines.push('## Cold start', '', '| runtime | spawn to listening ms | spawn to first 200 ms |', '|---|---:|---:|')
    for (const [runtime, samples] of Object.entries(cold)) {
      lines.push(`| hookcast on ${runtime} | ${fmt(median(samples.map((s) => s.listening)))} | ${fmt(median(samples.map((s) => s.firstOk)))} |`)
    }
    lines.push('')
  }
  lines.push('## Targets', '', '| target | measured | |', '|---|---:|---|', ...targets(get, results, backlog, cold), '')
  return lines.join('\n')
}

/** Targets (issue 4): reported, not asserted. */
function targets(get: (w: string, s: ServerKind) => Medians | undefined, results: Map<string, Sample[]>,
  backlog: Record<string, BacklogSample[]>, cold: Record<string, ColdSample[]>): string[] {
  const targets: string[] = []
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
  return targets
}
