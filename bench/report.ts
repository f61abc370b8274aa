/**
 * The report: medians of the repeats, hookcast's figures as ratios to the floor of the same run, the progress
 * lines printed as each run ends, and the markdown of bench/results.md (machine, tables, issue 15's targets).
 * @module
 */
import { execFileSync } from 'node:child_process'
import { crc32 } from 'node:zlib'
import { readFileSync } from 'node:fs'
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { COMMANDS, cpuBound, fileCreateCost, median, NODE_ENTRY, ROOT, sumCounts } from './lib.ts'
import type { Options } from './options.ts'
import { natsVersion } from './nats.ts'
import {
  IDLE_KINDS,
  IDLE_SECONDS,
  isReference,
  RUNTIMES,
  SETTLED_SECONDS,
  type IdleSample,
  type BacklogSample,
  type ColdSample,
  type PipelineSample,
  type Sample,
  type ServerKind,
  WORKLOADS,
  type Workload,
} from './scenarios.ts'

const LABELS: Record<ServerKind, string> = {
  floor: 'floor (node:http, HMAC, write)',
  hono: 'Hono on @hono/node-server, HMAC, write',
  express: 'Express + raw body parser',
  node: 'hookcast on Node',
  deno: 'hookcast on Deno',
  bun: 'hookcast on Bun',
  'node-fsync': 'hookcast on Node, fsync: true',
  nats3: '3 x hookcast on Node, one NATS JetStream',
}

/** A runtime's name as the hookcast rows give it: `Node`, `Bun`, `Deno`. */
const label = (kind: ServerKind) => LABELS[kind].replace(/^hookcast on /, '')

export const fmt = (value: number, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a')
const ratio = (value: number, floor: number) =>
  Number.isFinite(value / floor) ? `${(value / floor).toFixed(2)}x` : 'n/a'
export const mb = (bytes: number) => fmt(bytes / 1024 / 1024)

interface Medians extends Sample {
  runs: number
  missingTotal: number
}

function medians(samples: Sample[]): Medians {
  const m = (pick: (s: Sample) => number) => median(samples.map(pick))
  return {
    perSecond: m((s) => s.perSecond),
    endToEnd: m((s) => s.endToEnd),
    p50: m((s) => s.p50),
    p99: m((s) => s.p99),
    rss: m((s) => s.rss),
    cpuPerEvent: m((s) => s.cpuPerEvent),
    mainCpuPerEvent: m((s) => s.mainCpuPerEvent),
    otherKernelCpuPerEvent: m((s) => s.otherKernelCpuPerEvent),
    loadCpu: m((s) => s.loadCpu),
    drain: m((s) => s.drain),
    accepted: samples.reduce((n, s) => n + s.accepted, 0),
    missing: m((s) => s.missing),
    unanswered: samples.reduce((n, s) => n + s.unanswered, 0),
    foreign: samples.reduce((n, s) => n + s.foreign, 0),
    logged: samples.some((s) => s.logged)
      ? {
          accepted: samples.reduce((n, s) => n + (s.logged?.accepted ?? 0), 0),
          undelivered: samples.reduce((n, s) => n + (s.logged?.undelivered ?? 0), 0),
        }
      : undefined,
    refused: sumCounts(samples.map((s) => s.refused)),
    reasons: sumCounts(samples.map((s) => s.reasons)),
    reconnects: m((s) => s.reconnects),
    answered: m((s) => s.answered),
    errors: m((s) => s.errors),
    createCost: m((s) => s.createCost),
    othersCpu: m((s) => s.othersCpu),
    natsCpuPerEvent: m((s) => s.natsCpuPerEvent),
    loadAverage: m((s) => s.loadAverage),
    runs: samples.length,
    missingTotal: samples.reduce((n, s) => n + s.missing, 0),
  }
}

/** `, refused 8298 x 503 (spool_unavailable)`: by status in the measured run, then the reasons hookcast logged. */
function describeRefused(refused: Record<string, number>, reasons: Record<string, number>): string {
  const parts = Object.entries(refused).map(([status, n]) => `${n} x ${status}`)
  const why = Object.entries(reasons)
    .sort((x, y) => y[1] - x[1])
    .map(([reason]) => reason)
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
      `(d) ${options.backlogRepeats} time(s) per runtime; ${options.coldStarts} cold starts and ${options.idleRuns} idle reading(s) per runtime; medians reported${options.quick ? ' (--quick)' : ''}`,
    `- hookcast at its default settings (no \`server:\` section; spool and fs sink in the run's temp dir). On Node it ran ` +
      `${NODE_ENTRY.description}${NODE_ENTRY.built ? '' : ', not the built JavaScript production runs: its memory and start-up figures include tsx'}. ` +
      'The floor and Express run as plain JavaScript (bench/servers/*.ts, types stripped by esbuild)',
  ]
}

/**
 * What tells a loss from a miscount when accepted events are missing: the stored bodies no answer was seen for, the
 * files that are no request's body, and the gateway's own log (events it accepted, and those it never delivered).
 */
function missingDetail(m: Pick<Sample, 'unanswered' | 'foreign' | 'logged'>): string {
  const stored = `stored: ${m.unanswered} bodies never answered 200, ${m.foreign} files no request's body`
  if (!m.logged) return stored
  return `${stored}; the gateway logged ${m.logged.accepted} accepted, ${m.logged.undelivered} of them never delivered`
}

/** One run of (a)-(c), as printed when it ends. */
export function sampleLine(label: string, sample: Sample): string {
  return (
    `${label}: ${fmt(sample.perSecond)}/s (end to end ${fmt(sample.endToEnd)}/s) p50 ${fmt(sample.p50, 1)} ms p99 ${fmt(sample.p99, 1)} ms rss ${mb(sample.rss)} MB ` +
    `cpu ${fmt(sample.cpuPerEvent)} µs/delivered event (main thread ${fmt(sample.mainCpuPerEvent)}, other threads' kernel time ${fmt(sample.otherKernelCpuPerEvent)})${Number.isFinite(sample.natsCpuPerEvent) ? ` (nats-server ${fmt(sample.natsCpuPerEvent)})` : ''}, file create ${fmt(sample.createCost)} µs, loadgen ${fmt(sample.loadCpu * 100)}% cpu, drain ${fmt(sample.drain, 1)} s, ` +
    `check ${sample.accepted - sample.missing}/${sample.accepted}${sample.missing ? ` (${missingDetail(sample)})` : sample.logged ? ` (gateway logged ${sample.logged.accepted})` : ''}${describeRefused(sample.refused, sample.reasons)}${sample.reconnects ? `, ${sample.reconnects} reconnects` : ''}; ` +
    `machine: others used ${fmt(sample.othersCpu, 2)} cores, load average ${fmt(sample.loadAverage, 2)}`
  )
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
  /** Idle resident memory, bytes, by receiver (floor, node, deno, bun). */
  idle: Record<string, IdleSample[]>
  pipeline: PipelineSample[]
}

const LEGEND = [
  'Each row is the median of the repeats; ratios are to the floor measured in the same run.',
  '',
  "- **accepted/s**: answers `200` per second during the measured run (the issue's throughput figure). hookcast",
  '  answers once an event is in its spool and delivers after the answer; the floor and Express write the file',
  '  before answering.',
  '- **end to end/s**: events accepted *and* at their destination per second: all accepted events (warm-up included)',
  '  over the load time plus the **drain** (how long hookcast still delivered after the load stopped).',
  "- **CPU/delivered µs**: the server's CPU time, all threads, from the start of the load (warm-up included) until",
  '  every accepted event was at its destination, over all the events accepted in that span (each one delivered:',
  '  the check). For hookcast the span runs to the end of the drain (300 ms after its last delivery, so its',
  '  `@streams` deliveries count too); for the floor and Express, which write before answering, to the end of the',
  '  load. Each event is counted whole, its accept and its delivery, whenever they happened; CPU spent on refused',
  '  requests counts against the accepted ones. **of it on the main thread**: the part on the thread that runs the',
  "  JavaScript (HTTP, routing, hashing, the queue, the deliveries' own code); the rest is on other threads: Node's",
  "  libuv pool doing the file system calls (their kernel time included), the garbage collector's helpers.",
  '- **check**: accepted events found at the destination byte for byte (all repeats); refusals by status over the',
  '  whole load, warm-up included (all repeats), then in brackets the reasons hookcast logged for them',
  '  (`spool_unavailable`: the spool reached `spool.maxBytes`, 1 GiB by default, because deliveries fell behind the',
  '  accepts; `busy`: `server.maxInFlightBytes`); "reconnects" (median per run) are the TCP connections the load',
  '  generator had to open again because the server closed one, reset it or a request timed out. Deno 2.9.x answers',
  '  `Connection: close` to every request whose body does not fit its first 1 KB read (denoland/deno#36657, fixed',
  "  by #36690, not in 2.9.5), so on Deno every thumbnail in (a) and (b) costs a new connection; (c)'s ~300-byte",
  '  feeds events do not. Where events are missing, brackets tell a loss from a miscount: the stored bodies whose',
  "  answer the generator never saw, the files that are no request's body, and hookcast's own log (the events it",
  '  logged as accepted, and how many of those it never logged as delivered: none means it lost nothing).',
  "- hookcast runs at its **default settings**: the config gives the signing secret, the fs sink, the spool's folder",
  "  and `spool.fsync`, nothing else. `server.maxBodyBytes` defaults to 16 MiB, above (b)'s 1 MiB bodies, so it is",
  "  not raised; `server.maxInFlightBytes` defaults to 4 x that, 64 MiB, exactly what (b)'s 64 connections x 1 MiB",
  '  hold at once, so a `503 busy` in (b) is that protection at work (the "no 503" target is (a)\'s).',
  '- hookcast delivers each thumbnail and feed event twice: to the fs sink and to its stream tracker `@streams`',
  '  (live/ended alerts), two deliveries of one queued event. `@streams` deliveries are logged at debug, so the drain',
  "  is timed on the fs sink's deliveries.",
  '- **loadgen CPU**: autocannon runs in its own process on the same 2 cores as the server.',
  '- **3 x hookcast on Node, one NATS JetStream** (`nats3`): three gateways with `spool: { type: nats }` (queue and',
  '  stream state in JetStream and NATS KV) sharing one local nats-server (JetStream file store, `max_payload` 17 MiB)',
  '  and one fs sink directory; autocannon spreads its connections evenly over the three (connection i to instance',
  '  i mod 3). Everything runs on the same machine, so this measures the cost of the shared queue, not added',
  '  machines. Peak RSS and CPU/delivered add up the three gateways and nats-server.',
  `- **idle RSS**: resident memory (VmRSS) ${IDLE_SECONDS} s and ${SETTLED_SECONDS} s after the receiver listens, before any request; hookcast with the`,
  '  same config as in (a)-(c) (an empty spool). On Node the start leaves ~15 MB of heap V8 no longer needs; its memory',
  '  reducer returns it ~8 s later, so the later figure is what an idle server holds from then on, and the one the',
  "  70 MB bound is checked on (both are in the table and the target's row). MB in this report are MiB (2^20 bytes).",
  '- **file create µs**: the cost of creating a new file in the temp dir just before the run. Every receiver creates',
  '  at least one file per event. On ext4 without a journal, inodes deleted in the last minutes are skipped (and',
  '  checked one by one) when new ones are allocated, so after a mass deletion a create can cost ~1 ms of kernel',
  "  time: the benchmark therefore empties finished runs' files but deletes them only at the end.",
  '',
]

/** The whole report, as markdown. */
export function renderReport({
  options,
  started,
  machine,
  workloads,
  results,
  backlog,
  cold,
  idle,
  pipeline,
}: Results): string {
  const lines = [
    '# hookcast benchmark results',
    '',
    ...machine,
    `- Wall time: ${((Date.now() - started.getTime()) / 60_000).toFixed(1)} min`,
    '',
  ]
  lines.push(...LEGEND)
  const get = (w: string, s: ServerKind) => (results.get(`${w}/${s}`) ? medians(results.get(`${w}/${s}`)!) : undefined)
  for (const workload of workloads) {
    const floor = get(workload.key, 'floor')
    lines.push(`## ${workload.title}`, '')
    lines.push(
      '| receiver | accepted/s | vs floor | end to end/s | vs floor | p50 ms | p99 ms | p99 vs floor | peak RSS MB | CPU/delivered µs | of it on the main thread | vs floor | drain s | check | loadgen CPU | file create µs |',
    )
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|')
    for (const kind of workload.servers) {
      const m = get(workload.key, kind)
      if (!m) continue
      const check =
        m.missingTotal === 0
          ? `ok ${m.accepted}/${m.accepted}`
          : `**FAIL ${m.missingTotal} missing** of ${m.accepted} (${missingDetail(m)})`
      lines.push(
        `| ${LABELS[kind]} | ${fmt(m.perSecond)} | ${floor ? ratio(m.perSecond, floor.perSecond) : 'n/a'} | ` +
          `${fmt(m.endToEnd)} | ${floor ? ratio(m.endToEnd, floor.endToEnd) : 'n/a'} | ${fmt(m.p50, 2)} | ${fmt(m.p99, 2)} | ` +
          `${floor ? ratio(m.p99, floor.p99) : 'n/a'} | ${mb(m.rss)} | ${fmt(m.cpuPerEvent)} | ${fmt(m.mainCpuPerEvent)} | ${floor ? ratio(m.cpuPerEvent, floor.cpuPerEvent) : 'n/a'} | ` +
          `${isReference(kind) ? '-' : fmt(m.drain, 1)} | ${check}${describeRefused(m.refused, m.reasons)}` +
          `${m.reconnects ? `, ${fmt(m.reconnects)} reconnects` : ''}${m.errors ? `, ${fmt(m.errors)} errors` : ''} | ${fmt(m.loadCpu * 100)}% | ${fmt(m.createCost)} |`,
      )
    }
    lines.push('')
  }
  const pairs = workloads
    .map((w) => ({ w, local: get(w.key, 'node'), nats: get(w.key, 'nats3') }))
    .filter((p) => p.local && p.nats)
  if (pairs.length > 0) {
    lines.push('## Three instances on NATS against one local instance (both on Node)', '')
    lines.push(
      '| workload | 1 x local accepted/s | 3 x NATS accepted/s | ratio | 1 x local end to end/s | 3 x NATS end to end/s | ratio |',
      '|---|---:|---:|---:|---:|---:|---:|',
    )
    for (const { w, local, nats } of pairs) {
      lines.push(
        `| ${w.title} | ${fmt(local!.perSecond)} | ${fmt(nats!.perSecond)} | ${ratio(nats!.perSecond, local!.perSecond)} | ` +
          `${fmt(local!.endToEnd)} | ${fmt(nats!.endToEnd)} | ${ratio(nats!.endToEnd, local!.endToEnd)} |`,
      )
    }
    lines.push(
      '',
      ...natsCostLines(pairs.map(({ w, local, nats }) => ({ title: w.title, local: local!, nats: nats! }))),
    )
  }
  if (Object.keys(backlog).length > 0) {
    lines.push(
      `## (d) Backlog: ${options.backlog} pending deliveries of 100 KB thumbnails drained to the fs sink after a restart`,
      '',
    )
    lines.push('| runtime | deliveries/s | seconds | peak RSS MB | check |', '|---|---:|---:|---:|---|')
    for (const [runtime, samples] of Object.entries(backlog)) {
      const missing = samples.reduce((n, s) => n + s.missing, 0)
      lines.push(
        `| hookcast on ${runtime} | ${fmt(median(samples.map((s) => s.perSecond)))} | ${fmt(median(samples.map((s) => s.seconds)), 2)} | ` +
          `${mb(median(samples.map((s) => s.rss)))} | ${missing === 0 ? 'ok' : `**FAIL ${missing} missing**`} |`,
      )
    }
    lines.push(
      '',
      "Timed from the queue's recovery (logged at start, after the scan of the segments) to the last delivery.",
      '',
    )
  }
  if (Object.keys(cold).length > 0) {
    lines.push('## Cold start', '', '| runtime | spawn to listening ms | spawn to first 200 ms |', '|---|---:|---:|')
    for (const [runtime, samples] of Object.entries(cold)) {
      lines.push(
        `| hookcast on ${runtime} | ${fmt(median(samples.map((s) => s.listening)))} | ${fmt(median(samples.map((s) => s.firstOk)))} |`,
      )
    }
    lines.push('')
  }
  if (Object.keys(idle).length > 0) {
    lines.push(
      '## Idle memory (no request yet)',
      '',
      `| receiver | RSS MB at ${IDLE_SECONDS} s | vs floor | RSS MB at ${SETTLED_SECONDS} s | vs floor |`,
      '|---|---:|---:|---:|---:|',
    )
    const at = (kind: string, when: keyof IdleSample) =>
      idle[kind] ? median(idle[kind].map((sample) => sample[when])) : NaN
    for (const kind of IDLE_KINDS) {
      if (!idle[kind]) continue
      lines.push(
        `| ${LABELS[kind]} | ${mb(at(kind, 'early'))} | ${ratio(at(kind, 'early'), at('floor', 'early'))} | ` +
          `${mb(at(kind, 'settled'))} | ${ratio(at(kind, 'settled'), at('floor', 'settled'))} |`,
      )
    }
    lines.push('')
  }
  if (pipeline.length > 0) {
    lines.push(
      "## hookcast's own work per event, without HTTP (bench/pipeline.ts, on Node)",
      '',
      'A gateway in one process with the config above, events put straight into its queue (at most 256 ahead of the ' +
        "deliveries, so bodies are still in memory when delivered), on a tmpfs: the queue's put and the event's two " +
        'deliveries (fs sink, `@streams`) with their records, outcomes, counters and log lines. No HTTP, no load generator.',
      '',
      '| events | main-thread µs per event | repeats | delivered/s |',
      '|---|---:|---|---:|',
    )
    for (const sample of pipeline) {
      lines.push(
        `| ${sample.kind === 'json' ? 'feeds JSON' : '100 KB thumbnails'} | ${fmt(median(sample.mainUs))} | ` +
          `${sample.mainUs.map((us) => fmt(us)).join(', ')} | ${fmt(median(sample.perSecond))} |`,
      )
    }
    lines.push('')
  }
  lines.push(
    '## Targets (issue 15)',
    '',
    '| target | measured | |',
    '|---|---:|---|',
    ...targets(get, results, backlog, idle),
    '',
  )
  lines.push(...denoLine(get), '')
  lines.push(...whereFrom(get, results, pipeline))
  return lines.join('\n')
}

/** µs of one CRC-32 of 100 KB with node:zlib in this process (the check each queued body keeps). */
function crcMicros(): number {
  const body = new Uint8Array(100 * 1024).fill(7)
  for (let i = 0; i < 200; i++) crc32(body)
  const started = performance.now()
  for (let i = 0; i < 2_000; i++) crc32(body)
  return ((performance.now() - started) * 1000) / 2_000
}

/** CPU per event on a receiver's threads other than the main one, µs. */
const other = (m: Medians) => m.cpuPerEvent - m.mainCpuPerEvent

/** The other threads' share of the difference: the file system's kernel time and the collector's, when they cost more. */
function otherThreads(node: Medians, floor: Medians, kind: 'thumbnail' | 'json'): string {
  const more = other(node) - other(floor)
  if (!(more > 0)) return `On the other threads it spends no more than the floor (${fmt(more)} µs).`
  const user = (m: Medians) => other(m) - m.otherKernelCpuPerEvent
  return (
    `On the other threads it spends ${fmt(more)} µs more than the floor. In the kernel ` +
    `${fmt(node.otherKernelCpuPerEvent)} µs against the floor's ${fmt(floor.otherKernelCpuPerEvent)}: the file system's work, ` +
    "every body written twice (the durable spool before the `200`, then the sink's temp file and its rename: three " +
    'changes of a folder per event where the floor makes one). In user mode ' +
    `${fmt(user(node))} µs against the floor's ${fmt(user(floor))}: V8's helper threads, chiefly the garbage collector. ` +
    (kind === 'thumbnail'
      ? "The floor's bodies die young; hookcast's are held from the accept until their deliveries end, past V8's " +
        'young generation, so their memory is reclaimed by full collections, which V8 starts for the memory outside ' +
        'its heap (README, Performance).'
      : "The floor's objects die young; what an event leaves on hookcast's heap while its deliveries are under way " +
        "(the parsed event, its queue entries and claims, the deliveries' promises) outlives a scavenge, so every " +
        'scavenge copies it before it is promoted (README, Performance).')
  )
}

/**
 * Where a missed CPU or rate target of (a) and (c) comes from, in this run's own figures: per event, the main thread
 * against the Hono reference (the same HTTP stack and body read, with the floor's work), the other threads against
 * the floor's, and what bench/pipeline.ts measured of hookcast's own work.
 */
function whereFrom(
  get: (w: string, s: ServerKind) => Medians | undefined,
  results: Map<string, Sample[]>,
  pipeline: PipelineSample[],
): string[] {
  const out: string[] = []
  for (const [w, what, kind] of [
    ['a', '100 KB thumbnails', 'thumbnail'],
    ['c', 'feeds JSON events', 'json'],
  ] as const) {
    const floor = get(w, 'floor')
    const hono = get(w, 'hono')
    const node = get(w, 'node')
    if (!floor || !hono || !node) continue
    const own = pipeline.find((p) => p.kind === kind)
    out.push(
      `- **(${w}) ${what} on Node**: ${fmt(node.cpuPerEvent)} µs of CPU per delivered event, ${fmt(node.mainCpuPerEvent)} of it on the ` +
        `main thread, against the floor's ${fmt(floor.cpuPerEvent)} (${fmt(floor.mainCpuPerEvent)}) and the Hono reference's ` +
        `${fmt(hono.cpuPerEvent)} (${fmt(hono.mainCpuPerEvent)}). The HTTP stack is not the difference: the Hono reference runs it ` +
        `with the floor's work at ${ratio(hono.cpuPerEvent, floor.cpuPerEvent)} of the floor's CPU. On the main thread hookcast ` +
        `spends ${fmt(node.mainCpuPerEvent - hono.mainCpuPerEvent)} µs more than the reference: its own JavaScript on the one thread ` +
        `that both accepts and delivers${
          own
            ? `, of which the queue's put and the event's two deliveries with their records, ` +
              `outcomes, counters and logs take ${fmt(median(own.mainUs))} µs in process (table above)`
            : ''
        }; the rest is the accept ` +
        `path beyond the reference's (parsing, the event id, routing, the spool record)${
          kind === 'thumbnail'
            ? ` and the body's ` + `CRC-32, ${fmt(crcMicros())} µs per 100 KB with Node's zlib here (~2 µs on Bun)`
            : ''
        }, and the main thread's calls into ` +
        `the file system's thread pool. ${otherThreads(node, floor, kind)} End to end against the floor, repeat by ` +
        `repeat: ${perRepeat(results, w, 'node')}. ${cpuBoundText(node, floor)}`,
    )
    if (w === 'a') out.push(tailLatency(node, floor))
  }
  for (const [w, what] of [
    ['a', '100 KB thumbnails'],
    ['c', 'feeds JSON events'],
  ] as const) {
    const floor = get(w, 'floor')
    const bun = get(w, 'bun')
    if (!floor || !bun) continue
    out.push(
      `- **(${w}) ${what} on Bun**: ${fmt(bun.cpuPerEvent)} µs of CPU per delivered event, ${fmt(bun.mainCpuPerEvent)} of it on ` +
        `the main thread, against the floor's ${fmt(floor.cpuPerEvent)} (${fmt(floor.mainCpuPerEvent)}): ` +
        `${fmt(bun.mainCpuPerEvent - floor.mainCpuPerEvent)} µs more on the main thread (hookcast's own work, less of it than on ` +
        `Node: Bun's HTTP server, hashing and file calls are native) and ${fmt(other(bun) - other(floor))} µs on the other threads ` +
        `(the body's second write). End to end against the floor, repeat by repeat: ${perRepeat(results, w, 'bun')}.`,
    )
  }
  const floorB = get('b', 'floor')
  if (floorB && (get('b', 'node') || get('b', 'bun'))) {
    out.push(
      `- **(b) peak RSS**: ${(['node', 'bun'] as const)
        .filter((k) => get('b', k))
        .map((k) => `${mb(get('b', k)!.rss)} MB on ${label(k)}`)
        .join(', ')}, ` +
        `against the floor's ${mb(floorB.rss)} MB. hookcast holds 1 MB bodies where the floor does not: each request's body until ` +
        "the spool has it (up to `server.maxInFlightBytes`, 64 MiB), and each destination's deliveries (up to 64 MiB of bodies per " +
        "lane, the fs sink's and the tracker's, read back from the spool: the in-memory cache keeps bodies of at most 256 KiB). " +
        'The rest is memory the collector has not returned yet, which Bun returns later than Node. A lane budget of 16 MiB ' +
        'brought Node to 1.12-1.27x, and made Bun fall behind until its spool was full and it refused hooks with `503` (README, Performance).',
    )
  }
  if (out.length === 0) return []
  return [
    '## Where the misses come from',
    '',
    ...out,
    '',
    "bench/profile.ts gives the CPU profile of each; the README's " +
      'Performance section says what was changed for them and what was tried.',
    '',
  ]
}

/** Why (a)'s p99 on Node is what it is: the rate first (Little's law on 32 busy connections), then the pauses. */
function tailLatency(node: Medians, floor: Medians): string {
  const connections = WORKLOADS.find((w) => w.key === 'a')!.connections
  const mean = (m: Medians) => fmt((connections / m.perSecond) * 1000, 1)
  return (
    `- **(a) p99 on Node**: ${fmt(node.p99, 1)} ms against the floor's ${fmt(floor.p99, 1)} (${ratio(node.p99, floor.p99)}). ` +
    `Each of the ${connections} connections sends its next hook as soon as it has its answer, so the time an answer takes ` +
    `follows the rate (Little's law): ${connections} / ${fmt(node.perSecond)} per second is ${mean(node)} ms on average for ` +
    `hookcast and ${mean(floor)} ms for the floor, and the p50s are ${fmt(node.p50, 1)} and ${fmt(floor.p50, 1)} ms ` +
    `(${ratio(node.p50, floor.p50)}). The tail beyond that is the main thread's pauses: the garbage collector's full ` +
    'collections (the other threads, above), each stopping the thread for up to ~15 ms on this machine, and scavenges of up to ~20 ms.'
  )
}

/**
 * The most any thread layout could deliver at this CPU per event (deliveries on a worker thread included): both cores
 * busy, less what the load generator uses per request on the same machine.
 */
function cpuBoundText(node: Medians, floor: Medians): string {
  const { generatorUs, perSecond } = cpuBound(node)
  return (
    `Whatever the threads, ${cpus().length} cores at ${fmt(node.cpuPerEvent)} µs per event, with the load generator's ` +
    `${fmt(generatorUs)} µs per request beside it, deliver at most ${fmt(perSecond)}/s, ${ratio(perSecond, floor.endToEnd)} ` +
    'of the floor end to end: what moving deliveries off the accepting thread could reach without less CPU per event.'
  )
}

/** A receiver's end-to-end rate over the floor's, repeat by repeat (both ran in each repeat, one after the other). */
function perRepeat(results: Map<string, Sample[]>, w: string, kind: ServerKind): string {
  const floor = results.get(`${w}/floor`) ?? []
  const mine = results.get(`${w}/${kind}`) ?? []
  return mine.map((sample, i) => (floor[i] ? ratio(sample.endToEnd, floor[i]!.endToEnd) : 'n/a')).join(', ')
}

/** Issue 15's bounds per runtime: Node's and Bun's; Deno is reported without one. */
type Bounds = { node: number; bun: number }

/** Targets (issue 15): reported, not asserted. Ratios are of the medians, to the floor of the same run. */
function targets(
  get: (w: string, s: ServerKind) => Medians | undefined,
  results: Map<string, Sample[]>,
  backlog: Record<string, BacklogSample[]>,
  idle: Record<string, IdleSample[]>,
): string[] {
  const rows: string[] = []
  const verdict = (ok: boolean | undefined) => (ok === undefined ? 'not measured' : ok ? 'met' : '**missed**')
  const known = (value: number) => Number.isFinite(value)
  const t = (text: string, value: string, ok: boolean | undefined) =>
    rows.push(`| ${text} | ${value} | ${verdict(ok)} |`)
  const info = (text: string, value: string) =>
    rows.push(`| ${text} | ${value} | ${value === 'n/a' ? 'not measured' : 'reported'} |`)
  const x = (value: number) => (known(value) ? `${value.toFixed(2)}x` : 'n/a')
  const toFloor = (w: string, kind: ServerKind, pick: (m: Medians) => number) => {
    const m = get(w, kind)
    const floor = get(w, 'floor')
    return m && floor ? pick(m) / pick(floor) : NaN
  }
  /**
   * One row per runtime: Node and Bun against their bounds, Deno reported. `text(runtime, bound)` is the row's
   * text; `bound` is e.g. " ≥ 0.8x floor" (`unit` puts the number in words), empty for Deno.
   */
  const perRuntime = (
    text: (runtime: string, bound: string) => string,
    value: (kind: ServerKind) => number,
    show: (v: number) => string,
    bounds: Bounds,
    atLeast: boolean,
    unit: (bound: number) => string,
  ) => {
    for (const runtime of RUNTIMES) {
      const v = value(runtime)
      if (runtime === 'deno') {
        info(text('Deno', ''), show(v))
        continue
      }
      const bound = bounds[runtime]
      t(
        text(label(runtime), ` ${atLeast ? '≥' : '≤'} ${unit(bound)}`),
        show(v),
        known(v) ? (atLeast ? v >= bound : v <= bound) : undefined,
      )
    }
  }
  const e2e = (m: Medians) => m.endToEnd
  const xFloor = (b: number) => `${b}x floor`
  const xFloors = (b: number) => `${b}x the floor's`

  // (a) 100 KB thumbnails x32.
  perRuntime(
    (r, b) => `(a) end to end on ${r}${b}`,
    (k) => toFloor('a', k, e2e),
    x,
    { node: 0.8, bun: 0.9 },
    true,
    xFloor,
  )
  perRuntime(
    (r, b) => `(a) accepted/s on ${r}${b}`,
    (k) => toFloor('a', k, (m) => m.perSecond),
    x,
    { node: 1, bun: 1 },
    true,
    xFloor,
  )
  perRuntime(
    (r, b) => `(a) \`503\` answers on ${r}${b ? ': none' : ''} (all repeats, warm-up included)`,
    (k) => {
      const samples = results.get(`a/${k}`)
      return samples ? samples.reduce((n, s) => n + (s.refused['503'] ?? 0), 0) : NaN
    },
    (v) => (known(v) ? fmt(v) : 'n/a'),
    { node: 0, bun: 0 },
    false,
    String,
  )
  perRuntime(
    (r, b) => `(a) p99 accept on ${r}${b}`,
    (k) => toFloor('a', k, (m) => m.p99),
    x,
    { node: 1.5, bun: 1.5 },
    false,
    xFloors,
  )
  info('(a) end to end on Node, `spool.fsync: true`', x(toFloor('a', 'node-fsync', e2e)))
  // (c) feeds JSON x64.
  perRuntime(
    (r, b) => `(c) end to end on ${r}${b}`,
    (k) => toFloor('c', k, e2e),
    x,
    { node: 0.6, bun: 0.8 },
    true,
    xFloor,
  )
  info('(c) end to end on Node, `spool.fsync: true`', x(toFloor('c', 'node-fsync', e2e)))
  // (d) backlog drain to the fs sink.
  perRuntime(
    (r, b) => `(d) backlog drain on ${r}${b}`,
    (k) => (backlog[k] ? median(backlog[k].map((s) => s.perSecond)) : NaN),
    (v) => (known(v) ? `${fmt(v)}/s` : 'n/a'),
    { node: 5000, bun: 5000 },
    true,
    (b) => `${b.toLocaleString('en-US')}/s`,
  )
  // Resources.
  for (const w of ['a', 'c']) {
    perRuntime(
      (r, b) => `(${w}) CPU per delivered event on ${r}${b}`,
      (k) => toFloor(w, k, (m) => m.cpuPerEvent),
      x,
      { node: 1.5, bun: 1.5 },
      false,
      xFloors,
    )
  }
  perRuntime(
    (r, b) => `(b) peak RSS on ${r}${b}`,
    (k) => toFloor('b', k, (m) => m.rss),
    x,
    { node: 1.2, bun: 1.2 },
    false,
    xFloors,
  )
  const idleNode = idle.node ? median(idle.node.map((sample) => sample.settled)) : NaN
  const idleNodeEarly = idle.node ? median(idle.node.map((sample) => sample.early)) : NaN
  t(
    `idle RSS on Node ≤ 70 MB (${NODE_ENTRY.built ? 'built JavaScript' : '**tsx**, not the build'}; ${SETTLED_SECONDS} s after listening)`,
    known(idleNode) ? `${mb(idleNode)} MB (${mb(idleNodeEarly)} MB at ${IDLE_SECONDS} s)` : 'n/a',
    known(idleNode) ? idleNode <= 70 * 1024 * 1024 : undefined,
  )
  // What the durability tests guarantee, with fsync on and off.
  const checks =
    [...results.values()].flat().reduce((n, s) => n + s.missing, 0) +
    Object.values(backlog)
      .flat()
      .reduce((n, s) => n + s.missing, 0)
  const checked = results.size + Object.keys(backlog).length
  const fsync = [...results.keys()].some((key) => key.endsWith('/node-fsync'))
  t(
    `every accepted event at its destination, byte for byte (spool.fsync ${fsync ? 'off and on' : 'off only: no node-fsync run'})`,
    `${checks} missing`,
    checked ? checks === 0 : undefined,
  )
  return rows
}

/**
 * Deno's figures in one line, with the reconnects its keep-alive bug (denoland/deno#36657) caused: a connection
 * reopened per request means the bug, not hookcast, paid a TCP handshake on each one.
 */
function denoLine(get: (w: string, s: ServerKind) => Medians | undefined): string[] {
  const parts: string[] = []
  for (const w of ['a', 'b', 'c']) {
    const deno = get(w, 'deno')
    const floor = get(w, 'floor')
    if (!deno) continue
    const perRequest = deno.answered ? deno.reconnects / deno.answered : NaN
    parts.push(
      `(${w}) end to end ${fmt(deno.endToEnd)}/s = ${floor ? ratio(deno.endToEnd, floor.endToEnd) : 'n/a'} of the floor, accepted ` +
        `${floor ? ratio(deno.perSecond, floor.perSecond) : 'n/a'}, p99 ${floor ? ratio(deno.p99, floor.p99) : 'n/a'}, ` +
        `${fmt(deno.reconnects)} reconnects a run (${fmt(perRequest, 2)} per request answered)`,
    )
  }
  if (parts.length === 0) return []
  return [
    `**Deno** (no bound in issue 15): ${parts.join('; ')}. Deno 2.9.5 closes the connection after every request whose body ` +
      'does not fit its first 1 KB read (denoland/deno#36657, fixed by #36690, not released): where reconnects are ~1 per ' +
      "request, each thumbnail paid a TCP connect and a new accept on top of hookcast's work, which Node and Bun do not; " +
      "(c)'s small feeds events keep their connection, so (c) is the figure without the bug.",
  ]
}

/**
 * Issue 24's bound, CPU per accepted event of the three gateways and nats-server together at most 2x one local
 * instance's, with where the cost lies: nats-server's own share and the gateways' (their CPU per event against the
 * local instance's). When nats-server alone uses more than the bound, no change to the gateways can meet it.
 */
function natsCostLines(pairs: Array<{ title: string; local: Medians; nats: Medians }>): string[] {
  const lines = [
    '| workload | 1 x local CPU µs/event | 3 x NATS CPU µs/event | ratio (bound 2x) | of it nats-server | of it the 3 gateways |',
    '|---|---:|---:|---:|---:|---:|',
  ]
  for (const { title, local, nats } of pairs) {
    const gateways = nats.cpuPerEvent - nats.natsCpuPerEvent
    lines.push(
      `| ${title} | ${fmt(local.cpuPerEvent)} | ${fmt(nats.cpuPerEvent)} | ${ratio(nats.cpuPerEvent, local.cpuPerEvent)} | ` +
        `${fmt(nats.natsCpuPerEvent)} (${ratio(nats.natsCpuPerEvent, local.cpuPerEvent)} of local) | ` +
        `${fmt(gateways)} (${ratio(gateways, local.cpuPerEvent)}) |`,
    )
  }
  lines.push('')
  for (const { title, local, nats } of pairs) {
    if (nats.cpuPerEvent <= 2 * local.cpuPerEvent) continue
    const server = nats.natsCpuPerEvent / local.cpuPerEvent
    lines.push(
      `- ${title}: ${ratio(nats.cpuPerEvent, local.cpuPerEvent)} of one local instance's CPU per event, over the 2x bound. ` +
        (server >= 2
          ? `nats-server alone uses ${ratio(nats.natsCpuPerEvent, local.cpuPerEvent)} (storing each body, serving it to each destination's delivery, the acks and the stream state), so no change to the gateways can meet the bound on one machine.`
          : `nats-server uses ${ratio(nats.natsCpuPerEvent, local.cpuPerEvent)}; the rest is the gateways' NATS client work (each body published once and read back once per destination, the claims, acks and KV reads).`),
    )
  }
  lines.push('')
  return lines
}
