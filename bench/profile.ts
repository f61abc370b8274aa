/**
 * Profiles hookcast under one workload: starts it with the runtime's CPU profiler, drives it like the benchmark,
 * stops it, and prints the functions with the most self time and the files they are in.
 *
 *   node --import tsx bench/profile.ts [--runtime node|deno|bun|floor|express] [--workload a|b|c|d] [--seconds 5]
 *     [--backlog N] [--keep DIR] [--nats]
 *
 * Node and Deno write a .cpuprofile with --cpu-prof; Bun with --cpu-prof (Bun ≥ 1.3). The profile file is kept in
 * --keep DIR when given (open it in Chrome DevTools or speedscope). With --nats, hookcast's spool is a local
 * nats-server's JetStream (`spool: { type: nats }`), as one instance of the benchmark's nats3 row.
 * @module
 */
import { spawn } from 'node:child_process'
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { SECRET } from './bodies.ts'
import { COMMANDS, ROOT, sleep, startServer, tempDir } from './lib.ts'
import { fillSpool } from './backlog.ts'
import type { LoadOptions } from './load.ts'
import { hookcastConfig, isReference, NATS_MAX_PAYLOAD, type ReferenceKind, type Runtime } from './scenarios.ts'
import { startNats, type NatsServer } from './nats.ts'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
  children?: number[]
}

const args = process.argv.slice(2)
const value = (name: string, fallback: string) => {
  const index = args.indexOf(`--${name}`)
  return index >= 0 ? args[index + 1]! : fallback
}
const runtime = value('runtime', 'node') as Runtime | ReferenceKind
const workload = value('workload', 'a')
const seconds = Number(value('seconds', '5'))
const keep = args.includes('--keep') ? value('keep', '') : undefined
const shape = {
  a: { kind: 'thumbnail', size: 100 * 1024, connections: 32 },
  b: { kind: 'thumbnail', size: 1024 * 1024, connections: 64 },
  c: { kind: 'json', size: 0, connections: 64 },
  d: { kind: 'thumbnail', size: 100 * 1024, connections: 0 },
}[workload]!

const dir = tempDir(`hookcast-profile-${runtime}-`)
const profiles = join(dir.path, 'profiles')
mkdirSync(profiles)
mkdirSync(join(dir.path, 'data'))
const nats: NatsServer | undefined = args.includes('--nats')
  ? await startNats(join(dir.path, 'nats'), NATS_MAX_PAYLOAD)
  : undefined
// The benchmark's config (hookcast's defaults), with room in the spool for a whole backlog or a long profile.
const config = nats
  ? hookcastConfig(dir.path, false, '', `{ type: nats, servers: ["${nats.url}"] }`)
  : hookcastConfig(dir.path, false, ', maxBytes: 64GiB')
const [command, ...rest] = COMMANDS[runtime]
const profileArgs: Record<typeof runtime, string[]> = {
  node: [command!, '--cpu-prof', '--cpu-prof-dir', profiles, ...rest],
  deno: [command!, rest[0]!, `--v8-flags=--cpu-prof,--cpu-prof-dir=${profiles}`, ...rest.slice(1)],
  bun: [command!, '--cpu-prof', `--cpu-prof-dir=${profiles}`, ...rest],
  floor: [command!, '--cpu-prof', '--cpu-prof-dir', profiles, ...rest],
  hono: [command!, '--cpu-prof', '--cpu-prof-dir', profiles, ...rest],
  express: [command!, '--cpu-prof', '--cpu-prof-dir', profiles, ...rest],
}
try {
  const backlog = workload === 'd' ? await fillSpool(dir.path, Number(value('backlog', '10000')), shape.size) : []
  const server = isReference(runtime)
    ? await startServer(profileArgs[runtime], [], { DATA: join(dir.path, 'data'), SECRET })
    : await startServer(profileArgs[runtime], ['--config', config], {})
  const options: LoadOptions = {
    url: server.url,
    kind: shape.kind as 'json',
    size: shape.size,
    connections: shape.connections,
    warmupSeconds: 1,
    seconds,
    seqBase: 1,
    out: join(dir.path, 'load.json'),
  }
  if (workload === 'd') {
    const started = performance.now()
    while (server.delivered.count < backlog.length && performance.now() - started < 300_000) await sleep(20)
    console.log(
      `${runtime} d: ${backlog.length} deliveries at ${(backlog.length / ((server.delivered.lastAt - started) / 1000)).toFixed(0)}/s (profiler on)`,
    )
  } else
    await new Promise<void>((resolve) => {
      spawn(process.execPath, ['--import', 'tsx', 'bench/load.ts', JSON.stringify(options)], {
        cwd: ROOT,
        stdio: 'ignore',
      }).once('exit', () => resolve())
    })
  if (workload !== 'd') {
    const result = JSON.parse(readFileSync(options.out, 'utf8')) as { perSecond: number; p99: number }
    console.log(
      `${runtime} ${workload}: ${result.perSecond.toFixed(0)}/s, p99 ${result.p99.toFixed(1)} ms (profiler on)`,
    )
  }
  await new Promise((resolve) => setTimeout(resolve, 2000))
  await server.stop()
  const file = readdirSync(profiles).find((name) => name.endsWith('.cpuprofile'))
  if (!file) throw new Error(`no profile written in ${profiles}`)
  if (keep) {
    mkdirSync(keep, { recursive: true })
    copyFileSync(join(profiles, file), join(keep, `${runtime}-${workload}.cpuprofile`))
  }
  summarise(JSON.parse(readFileSync(join(profiles, file), 'utf8')) as { nodes: ProfileNode[] })
} finally {
  await nats?.stop()
  dir.remove()
}

function summarise(profile: { nodes: ProfileNode[] }): void {
  const total = profile.nodes.reduce((n, node) => n + (node.hitCount ?? 0), 0)
  const byFunction = new Map<string, number>()
  const byFile = new Map<string, number>()
  const short = (url: string) =>
    url
      .replace(/^file:\/\//, '')
      .replace(ROOT, '')
      .replace(/.*node_modules\//, 'npm:') || '(native)'
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0
    if (!hits) continue
    const { functionName, url, lineNumber } = node.callFrame
    const key = `${functionName || '(anonymous)'} ${short(url)}${url ? `:${lineNumber + 1}` : ''}`
    byFunction.set(key, (byFunction.get(key) ?? 0) + hits)
    const file = short(url).split(':')[0]!
    byFile.set(file, (byFile.get(file) ?? 0) + hits)
  }
  const print = (title: string, map: Map<string, number>, count: number) => {
    console.log(`\n${title}`)
    for (const [key, hits] of [...map].sort((a, b) => b[1] - a[1]).slice(0, count)) {
      console.log(`${((hits / total) * 100).toFixed(1).padStart(5)}%  ${key}`)
    }
  }
  print('self time by function', byFunction, 30)
  print('self time by file', byFile, 20)
}
