/**
 * `npm run bench [-- --quick] [-- --only a,b,c,d,cold,idle,pipeline] [-- --servers floor,hono,express,node,deno,bun,node-fsync,nats3]
 *   [-- --repeats N --duration S --warmup S --backlog N --backlog-repeats N --cold-starts N --idle-runs N --out FILE]`
 *
 * Runs, in one go on this machine, the floor receiver (node:http + HMAC + file), the usual Express receiver and
 * hookcast on Node, Deno and Bun (fs sink, durable spool; once more with fsync), and for (a) and (c) three hookcast
 * instances on Node sharing one nats-server (`nats3`, `spool: { type: nats }`), drives each with autocannon in a
 * separate process sending distinct signed hooks, checks that every accepted event reached its destination byte for
 * byte, reads each one's idle memory, measures hookcast's own work per event without HTTP (bench/pipeline.ts), and
 * writes medians of the repeats, with hookcast's figures as ratios to the floor, issue 15's targets and where the
 * misses come from to bench/results.md.
 *
 * This file only orchestrates: the flags are in options.ts, the workloads in scenarios.ts, the report in report.ts.
 * @module
 */
import { writeFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { removeTempDirs } from './lib.ts'
import { parseArgs } from './options.ts'
import { describeMachine, fmt, mb, renderReport, sampleLine } from './report.ts'
import {
  IDLE_KINDS,
  IDLE_SECONDS,
  SETTLED_SECONDS,
  runBacklog,
  runCold,
  runIdle,
  runOne,
  runPipeline,
  RUNTIMES,
  WORKLOADS,
  type BacklogSample,
  type ColdSample,
  type IdleSample,
  type PipelineSample,
  type Sample,
} from './scenarios.ts'

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2))
  const started = new Date()
  const machine = describeMachine(options, started)
  console.log(machine.join('\n'))

  const results = new Map<string, Sample[]>() // `${workload}/${server}`
  const workloads = WORKLOADS.filter((w) => options.only.has(w.key))
  const backlog: Record<string, BacklogSample[]> = {}
  const cold: Record<string, ColdSample[]> = {}
  const idle: Record<string, IdleSample[]> = {}
  const runtimes = RUNTIMES.filter((r) => !options.servers || options.servers.has(r))

  for (let rep = 1; rep <= options.repeats; rep++) {
    for (const workload of workloads) {
      for (const kind of workload.servers.filter((s) => !options.servers || options.servers.has(s))) {
        const label = `[${rep}/${options.repeats}] ${workload.key} ${kind}`
        try {
          const sample = await runOne(workload, kind, options)
          const key = `${workload.key}/${kind}`
          results.set(key, [...(results.get(key) ?? []), sample])
          console.log(sampleLine(label, sample))
        } catch (error) {
          console.log(`${label}: FAILED ${(error as Error).message}`)
        }
      }
    }
    if (options.only.has('d') && rep <= options.backlogRepeats) {
      for (const runtime of runtimes) {
        try {
          const sample = await runBacklog(runtime, options)
          ;(backlog[runtime] ??= []).push(sample)
          console.log(
            `[${rep}/${options.repeats}] d ${runtime}: ${options.backlog} deliveries in ${fmt(sample.seconds, 2)} s = ${fmt(sample.perSecond)}/s, rss ${mb(sample.rss)} MB, missing ${sample.missing}`,
          )
        } catch (error) {
          console.log(`[${rep}/${options.repeats}] d ${runtime}: FAILED ${(error as Error).message}`)
        }
      }
    }
  }
  if (options.only.has('cold')) {
    for (let i = 0; i < options.coldStarts; i++) {
      for (const runtime of runtimes) {
        try {
          const sample = await runCold(runtime)
          ;(cold[runtime] ??= []).push(sample)
          console.log(
            `cold ${runtime}: listening after ${fmt(sample.listening)} ms, first 200 after ${fmt(sample.firstOk)} ms`,
          )
        } catch (error) {
          console.log(`cold ${runtime}: FAILED ${(error as Error).message}`)
        }
      }
    }
  }

  if (options.only.has('idle')) {
    for (let i = 0; i < options.idleRuns; i++) {
      for (const kind of IDLE_KINDS.filter((k) => !options.servers || options.servers.has(k))) {
        try {
          const sample = await runIdle(kind)
          ;(idle[kind] ??= []).push(sample)
          console.log(
            `idle ${kind}: ${mb(sample.early)} MB resident at ${IDLE_SECONDS} s, ${mb(sample.settled)} MB at ${SETTLED_SECONDS} s`,
          )
        } catch (error) {
          console.log(`idle ${kind}: FAILED ${(error as Error).message}`)
        }
      }
    }
  }

  const pipeline: PipelineSample[] = []
  if (options.only.has('pipeline')) {
    for (const [kind, events] of [
      ['json', 20_000],
      ['thumbnail', 8_000],
    ] as const) {
      try {
        const sample = await runPipeline(kind, events, options.quick ? 1 : 3)
        pipeline.push(sample)
        console.log(
          `pipeline ${kind}: ${sample.mainUs.map((us) => fmt(us)).join(', ')} µs of main-thread CPU per event`,
        )
      } catch (error) {
        console.log(`pipeline ${kind}: FAILED ${(error as Error).message}`)
      }
    }
  }

  const report = renderReport({ options, started, machine, workloads, results, backlog, cold, idle, pipeline })
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
