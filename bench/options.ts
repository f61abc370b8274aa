/**
 * The benchmark's command line and its defaults (a full run, or a short one with `--quick`):
 *
 *   --quick                  short runs, one repeat, printed only (no results.md)
 *   --only a,b,c,d,cold,idle,pipeline    the workloads to run (idle: resident memory 3 s and 15 s after listening, no
 *                            request; pipeline: bench/pipeline.ts, hookcast's own work per event in process, no HTTP)
 *   --servers floor,hono,express,node,deno,bun,node-fsync,nats3    the receivers to run them against (nats3: three
 *                            instances on Node sharing one local nats-server, (a) and (c) only)
 *   --repeats N --duration S --warmup S --backlog N --backlog-repeats N --cold-starts N --idle-runs N --out FILE
 *
 * What the default full run costs on the 2-core machine (`npm run bench`, budget ~20 min): (a)-(c) are
 * 3 repeats x (7 + 5 + 7) receivers = 57 runs of 1 s warm-up + 5 s measured, plus per run ~2 s to start the server
 * and the load generator and ~2-5 s to check the files (the floor's (a) writes ~25,000 files of 100 KB: 2.5 GB to
 * hash), and hookcast's drain: up to ~25 s in (c) on Node in the last full run, 0-5 s elsewhere; about 13 s a run
 * on average, ~12.5 min. (d): 3 x (filling 20,000 records of 100 KB, ~15 s, then the drain, 3-7 s) ~1 min. Cold
 * starts: 5 x 3 x ~1 s. Idle: 3 x 4 receivers x ~16 s (start, 15 s idle) ~3 min. Pipeline: 3 x 2 in-process runs,
 * ~1 min. About 18 min in all; a 4th repeat
 * would add ~4 min, and each second more of measured run ~1 min.
 * @module
 */
import { join } from 'node:path'
import { ROOT } from './lib.ts'

export interface Options {
  quick: boolean
  only: Set<string>
  servers: Set<string> | undefined
  repeats: number
  duration: number
  warmup: number
  backlog: number
  backlogRepeats: number
  coldStarts: number
  /** Idle memory readings per receiver (median reported). */
  idleRuns: number
  out: string | undefined
}

export function parseArgs(argv: string[]): Options {
  const value = (name: string) => {
    const index = argv.indexOf(`--${name}`)
    return index >= 0 ? argv[index + 1] : undefined
  }
  const quick = argv.includes('--quick')
  const number = (name: string, full: number, fast: number) => Number(value(name) ?? (quick ? fast : full))
  return {
    quick,
    only: new Set((value('only') ?? 'a,b,c,d,cold,idle,pipeline').split(',')),
    servers: value('servers') ? new Set(value('servers')!.split(',')) : undefined,
    repeats: number('repeats', 3, 1),
    duration: number('duration', 5, 3),
    warmup: number('warmup', 1, 1),
    backlog: number('backlog', 20_000, 5_000),
    backlogRepeats: number('backlog-repeats', 1, 1),
    coldStarts: number('cold-starts', 5, 2),
    idleRuns: number('idle-runs', 3, 1),
    out: value('out') ?? (quick ? undefined : join(ROOT, 'bench/results.md')),
  }
}
