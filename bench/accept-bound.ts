/**
 * Issue 26's untried option, bounded before it is built: deliveries off the thread that accepts. Each round runs
 * (a) and (c) against the floor, hookcast on Node as the benchmark runs it (end to end, drain included), and hookcast
 * with no delivery worker (bench/servers/held.ts: accepted events stay in the spool). The held run's
 * accepted/s is the most such a design could deliver with the accept path as it is: it would do the same accepting
 * and more besides, on the same two cores. Its main-thread CPU per event is the accept path's. A second table gives
 * the other bound, on CPU: the rate at which hookcast's end-to-end CPU per event (all threads) keeps every core busy,
 * with the load generator's share taken out. No thread layout gets past it without cutting CPU per event.
 *
 *   node --import tsx bench/accept-bound.ts [--quick] [--repeats 3] [--duration 5] [--warmup 1] [--out FILE]
 *
 * Writes bench/accept-bound.md (--quick: one short repeat, printed only).
 * @module
 */
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { cpuBound, cpuSeconds, median, ROOT, startServer, tempDir } from './lib.ts'
import { parseArgs, type Options } from './options.ts'
import { hookcastConfig, loadOptions, runLoad, runOne, WORKLOADS, type Sample, type Workload } from './scenarios.ts'

// Through tsx, not bundled: the gateway reads its page's files next to its sources.
const HELD = [process.execPath, '--import', 'tsx', join(ROOT, 'bench/servers/held.ts')]

interface Row {
  perSecond: number
  p50: number
  p99: number
  /** Main-thread CPU per accepted event, µs (warm-up included; the end-to-end rows include the drain). */
  mainUs: number
}

/** hookcast with no delivery worker: accepted/s, latency and main-thread CPU over the measured run. */
async function runHeld(workload: Workload, options: Options): Promise<Row> {
  const dir = tempDir(`hookcast-bound-${workload.key}-`)
  // The spool keeps every accepted body: room for all of them, not the default 1 GiB.
  const config = hookcastConfig(dir.path, false, ', maxBytes: 64GiB')
  const server = await startServer(HELD, [config], {})
  try {
    let main = NaN
    const result = await runLoad(loadOptions(workload, options, server.url, join(dir.path, 'load.json')), (line) => {
      if (line === 'load-start') main = -cpuSeconds(server.pid, server.pid)
      if (line === 'measure-end') main += cpuSeconds(server.pid, server.pid)
    })
    // As the benchmark counts it: from the warm-up's start, per event accepted (warm-up included).
    const mainUs = (main / Math.max(1, result.accepted.length)) * 1e6
    return { perSecond: result.perSecond, p50: result.p50, p99: result.p99, mainUs }
  } finally {
    await server.stop()
    dir.release()
  }
}

/**
 * The CPU bound, whatever the threads: the events per second hookcast's end-to-end CPU per event allows with both
 * cores busy, the load generator's share (it runs on the same machine) taken out. No thread layout delivers more
 * without less CPU per event.
 */
interface Budget {
  serverUs: number
  generatorUs: number
  perSecond: number
  /** Against the floor's end-to-end rate in the same repeat. */
  ratio: number
}

function budgetOf(s: Sample, floorPerSecond: number): Budget {
  const { generatorUs, perSecond } = cpuBound(s)
  return { serverUs: s.cpuPerEvent, generatorUs, perSecond, ratio: perSecond / floorPerSecond }
}

const options = parseArgs(process.argv.slice(2))
const budgetsByWorkload = new Map<string, Budget[]>()
const budgetLines: string[] = []
const LABELS = { floor: 'floor', hookcast: 'hookcast, end to end', held: 'hookcast, no deliveries (accepted/s)' }
const lines = [
  '| workload | receiver | per s | x floor, median (each repeat) | p50 ms | p99 ms | main thread µs/event |',
  '|---|---|---|---|---|---|---|',
]
for (const workload of WORKLOADS.filter((w) => w.key !== 'b')) {
  const rows: Record<keyof typeof LABELS, Row[]> = { floor: [], hookcast: [], held: [] }
  const budgets: Budget[] = []
  for (let repeat = 0; repeat < options.repeats; repeat++) {
    for (const kind of ['floor', 'node'] as const) {
      const s = await runOne(workload, kind, options)
      if (s.missing > 0) throw new Error(`${kind} lost ${s.missing} accepted events`)
      rows[kind === 'node' ? 'hookcast' : 'floor'].push({
        perSecond: s.endToEnd,
        p50: s.p50,
        p99: s.p99,
        mainUs: s.mainCpuPerEvent,
      })
      if (kind === 'node') budgets.push(budgetOf(s, rows.floor[repeat]!.perSecond))
    }
    rows.held.push(await runHeld(workload, options))
    budgetsByWorkload.set(workload.key, budgets)
    console.error(`${workload.key} repeat ${repeat + 1} done`)
  }
  for (const [name, runs] of Object.entries(rows) as Array<[keyof typeof LABELS, Row[]]>) {
    const m = (pick: (r: Row) => number) => median(runs.map(pick))
    // Each repeat against the floor's run beside it: the floor's own speed moves with the file system's state.
    const ratios = runs.map((r, i) => r.perSecond / rows.floor[i]!.perSecond)
    lines.push(
      `| ${workload.key} | ${LABELS[name]} | ${m((r) => r.perSecond).toFixed(0)} | ${median(ratios).toFixed(2)}x ` +
        `(${ratios.map((r) => r.toFixed(2)).join(', ')}) | ${m((r) => r.p50).toFixed(1)} | ${m((r) => r.p99).toFixed(1)} | ` +
        `${m((r) => r.mainUs).toFixed(0)} |`,
    )
  }
}
budgetLines.push(
  '',
  '| workload | hookcast CPU µs/event, all threads | load generator CPU µs/request | both cores busy, events/s | x floor, median (each repeat) |',
  '|---|---|---|---|---|',
)
for (const [key, budgets] of budgetsByWorkload) {
  const m = (pick: (b: Budget) => number) => median(budgets.map(pick))
  budgetLines.push(
    `| ${key} | ${m((b) => b.serverUs).toFixed(0)} | ${m((b) => b.generatorUs).toFixed(0)} | ${m((b) => b.perSecond).toFixed(0)} | ` +
      `${m((b) => b.ratio).toFixed(2)}x (${budgets.map((b) => b.ratio.toFixed(2)).join(', ')}) |`,
  )
}
const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim()
const header = [
  '# Accepting alone: the bound on taking deliveries off the accepting thread (bench/accept-bound.ts)',
  '',
  `${new Date().toISOString().slice(0, 16)} UTC, commit ${commit}, ${cpus().length} cores, load average at the end ` +
    `${loadavg()[0]!.toFixed(2)}; ${options.repeats} repeats of ${options.warmup} s warm-up + ${options.duration} s.`,
  '',
]
const text = [...header, ...lines, ...budgetLines, ''].join('\n')
console.log(text)
// Beside results.md (or where --out says); --quick only prints.
const out = process.argv.includes('--out') ? options.out : join(ROOT, 'bench/accept-bound.md')
if (!options.quick && out) writeFileSync(out, text)
