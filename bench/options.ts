/**
 * The benchmark's command line and its defaults (a full run, or a short one with `--quick`):
 *
 *   --quick                  short runs, one repeat, printed only (no results.md)
 *   --only a,b,c,d,cold      the workloads to run
 *   --servers floor,express,node,deno,bun,node-fsync,nats3    the receivers to run them against (nats3: three
 *                            instances on Node sharing one local nats-server, (a) and (c) only)
 *   --repeats N --duration S --warmup S --backlog N --backlog-repeats N --cold-starts N --out FILE
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
