/**
 * Process, file and statistics helpers for the benchmark: servers on free ports, CPU and peak memory from /proc,
 * temp dirs that are always removed, and the byte-for-byte check.
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, truncateSync } from 'node:fs'
import { createRequire } from 'node:module'
import { cpus, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildSync } from 'esbuild'
import type { BodyFactory } from './bodies.ts'

export const ROOT = fileURLToPath(new URL('..', import.meta.url))
const BIN = join(ROOT, 'node_modules/.bin')
const TICKS_PER_SECOND = 100 // USER_HZ on Linux

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

// ---------------------------------------------------------------------------------------------------------------
// Cleanup: every child and temp dir the benchmark makes is registered and removed, also on Ctrl-C.

const children = new Set<ChildProcess>()
const dirs = new Set<string>()

export interface TempDir {
  path: string
  remove(): void
  /**
   * Frees a finished run's disk space but keeps its files (emptied) until the benchmark ends. ext4 without a journal
   * (this VM's) skips inodes deleted in the last minutes when it allocates new ones, so deleting a run's tens of
   * thousands of files made every file created in the next runs cost up to ~1 ms of kernel time.
   */
  release(): void
}

export function tempDir(prefix: string): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix))
  dirs.add(path)
  return {
    path,
    remove() {
      rmSync(path, { recursive: true, force: true })
      dirs.delete(path)
    },
    release() {
      const walk = (dir: string) => {
        for (const entry of readdirSync(dir, { withFileTypes: true })) {
          const full = join(dir, entry.name)
          if (entry.isDirectory()) walk(full)
          else if (entry.isFile()) truncateSync(full, 0)
        }
      }
      walk(path)
    },
  }
}

/** Removes every temp dir left (released ones included); returns how many. */
export function removeTempDirs(): number {
  const count = dirs.size
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  dirs.clear()
  return count
}

export function cleanupNow(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  dirs.clear()
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    console.error(`\n${signal}: stopping the benchmark's processes and removing its temp dirs`)
    cleanupNow()
    process.exit(130)
  })
}
process.on('exit', cleanupNow)

// ---------------------------------------------------------------------------------------------------------------
// Servers.

/**
 * How hookcast runs on Node: what `npm start` runs (package.json's `start`: `node dist/node/adapters/node.js`, the
 * JavaScript `npm run build` emits) when that file exists and was built from the sources as they are now (the digest
 * bin/build.mjs keeps in dist/node/.inputs); otherwise adapters/node.ts through tsx, the way `npm run dev` runs it.
 * tsx alone adds ~30 MB of resident memory and compiles every module at start, so the report says which one ran.
 * The benchmark never builds: run `npm run build` first to measure the built JavaScript.
 */
export const NODE_ENTRY: { command: string[]; built: boolean; description: string } = (() => {
  const tsx = [process.execPath, '--import', 'tsx', 'adapters/node.ts']
  const dev = (why: string) => ({
    command: tsx,
    built: false,
    description: `adapters/node.ts through tsx (${why}; \`npm run build\` makes it)`,
  })
  let start: string | undefined
  try {
    start = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts?: Record<string, string> })
      .scripts?.start
  } catch {
    // no package.json scripts: tsx
  }
  const words = start?.trim().split(/\s+/) ?? []
  const entry = words.length === 2 && words[0] === 'node' && words[1]!.endsWith('.js') ? words[1]! : undefined
  if (!entry) return dev(`\`npm start\` is "${start ?? ''}", not \`node <file>.js\``)
  if (!existsSync(join(ROOT, entry))) return dev(`no ${entry}`)
  const digest = buildInputsDigest()
  let built: string | undefined
  try {
    built = readFileSync(join(ROOT, 'dist/node/.inputs'), 'utf8').trim()
  } catch {
    // no record of the inputs: cannot tell it is current
  }
  if (digest === undefined || built !== digest)
    return dev(`${entry} was built from other sources than the current ones`)
  return {
    command: [process.execPath, entry],
    built: true,
    description: `${entry} (\`npm start\`, built from the current sources)`,
  }
})()

/**
 * The digest bin/build.mjs writes to dist/node/.inputs, computed the same way: the TypeScript version, then every
 * file under src/ and adapters/ and the build's own inputs, by path and content. Undefined when an input cannot be read.
 */
function buildInputsDigest(): string | undefined {
  try {
    const filesUnder = (dir: string): string[] =>
      readdirSync(join(ROOT, dir), { withFileTypes: true })
        .flatMap((entry) => (entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)]))
        .sort()
    const inputs = [
      ...filesUnder('src'),
      ...filesUnder('adapters'),
      'tsconfig.json',
      'tsconfig.build.json',
      'bin/build.mjs',
    ]
    const tsc = createRequire(join(ROOT, 'bin/build.mjs')).resolve('typescript/bin/tsc')
    const hash = createHash('sha256').update(readFileSync(join(dirname(tsc), '..', 'package.json')))
    for (const file of inputs)
      hash
        .update(`${file}\0`)
        .update(readFileSync(join(ROOT, file)))
        .update('\0')
    return hash.digest('hex')
  } catch {
    return undefined
  }
}

/**
 * The floor and Express run as plain JavaScript, as a receiver would in production: bench/servers/*.ts stripped of
 * their types by esbuild when the benchmark starts, into node_modules/.cache (where `express` still resolves). Run
 * through tsx they carried its ~30 MB and its compile at start, which hookcast's built JavaScript does not.
 */
const REFERENCE_DIR = join(ROOT, 'node_modules/.cache/hookcast-bench')
buildSync({
  entryPoints: ['floor', 'hono', 'express'].map((name) => join(ROOT, `bench/servers/${name}.ts`)),
  outdir: REFERENCE_DIR,
  outExtension: { '.js': '.mjs' },
  format: 'esm',
  platform: 'node',
  target: 'node20',
  logLevel: 'error',
})

export const COMMANDS = {
  node: NODE_ENTRY.command,
  deno: [join(BIN, 'deno'), 'run', '-A', 'adapters/deno.ts'],
  bun: [join(BIN, 'bun'), 'run', 'adapters/bun.ts'],
  floor: [process.execPath, join(REFERENCE_DIR, 'floor.mjs')],
  hono: [process.execPath, join(REFERENCE_DIR, 'hono.mjs')],
  express: [process.execPath, join(REFERENCE_DIR, 'express.mjs')],
} as const satisfies Record<string, readonly string[]>

/** Registers a child for the cleanup (killed on exit or Ctrl-C); resolves when it has exited. */
export function trackChild(child: ChildProcess): Promise<void> {
  children.add(child)
  return new Promise<void>((resolve) =>
    child.once('exit', () => {
      children.delete(child)
      resolve()
    }),
  )
}

export interface Server {
  pid: number
  url: string
  child: ChildProcess
  /** When it was spawned and when it logged "listening" (performance.now()). */
  spawnedAt: number
  listeningAt: number
  /**
   * Events delivered to the `disk` sink so far by their logged id (`count` is their number, a delivery made twice
   * counted once), and when the last delivery came.
   */
  delivered: { count: number; lastAt: number; ids: Set<string> }
  /** Ids of the events hookcast logged as accepted (`hook accepted`, not a duplicate), whatever the load generator saw. */
  acceptedIds: Set<string>
  /** Hooks hookcast logged as refused so far, by reason (`spool_unavailable`, `busy`...): what a 503 was. */
  refusals: Record<string, number>
  /** performance.now() when a line containing `text` first came, if it did. */
  firstLine(text: string): number | undefined
  logTail(): string[]
  stop(): Promise<void>
}

/** The event id on a hookcast log line. */
function loggedId(line: string): string {
  return /"id":"([^"]+)"/.exec(line)?.[1] ?? '?'
}

/**
 * The events the gateways logged as accepted that none of them has logged as delivered to `disk` yet. Where the load
 * generator counts more events answered 200 than this (the check's `missing`), and none is undelivered, the gateway
 * lost nothing: the generator paired an answer with the wrong request.
 */
export function undelivered(servers: readonly Pick<Server, 'delivered' | 'acceptedIds'>[]): number {
  let count = 0
  for (const server of servers) {
    for (const id of server.acceptedIds) if (!servers.some((other) => other.delivered.ids.has(id))) count++
  }
  return count
}

/** Spawns a server with PORT=0 and resolves once it logs its address. */
export async function startServer(
  command: readonly string[],
  args: string[],
  env: Record<string, string>,
  watch: string[] = [],
): Promise<Server> {
  const spawnedAt = performance.now()
  const child = spawn(command[0]!, [...command.slice(1), ...args], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = trackChild(child)
  const tail: string[] = []
  const delivered = { count: 0, lastAt: 0, ids: new Set<string>() }
  const acceptedIds = new Set<string>()
  const refusals: Record<string, number> = {}
  const seen = new Map<string, number>()
  let listeningAt = 0
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${command.join(' ')} did not start in 60 s:\n${tail.join('\n')}`)),
      60_000,
    )
    const onLine = (line: string) => {
      if (line.includes('"msg":"delivered"')) {
        if (!line.includes('"destination":"disk"')) return
        delivered.ids.add(loggedId(line))
        delivered.count = delivered.ids.size
        delivered.lastAt = performance.now()
        return
      }
      if (line.includes('"msg":"hook accepted"')) {
        if (line.includes('"duplicate":false')) acceptedIds.add(loggedId(line))
        return
      }
      if (line.includes('"msg":"hook refused"')) {
        const reason = /"reason":"([^"]+)"/.exec(line)?.[1] ?? '?'
        refusals[reason] = (refusals[reason] ?? 0) + 1
      }
      tail.push(line)
      if (tail.length > 50) tail.shift()
      for (const text of watch) if (!seen.has(text) && line.includes(text)) seen.set(text, performance.now())
      const match = /"msg":"listening","url":"([^"]+)"/.exec(line)
      if (match && !listeningAt) {
        listeningAt = performance.now()
        clearTimeout(timer)
        resolve(match[1]!)
      }
    }
    for (const stream of [child.stdout!, child.stderr!]) {
      let buffer = ''
      stream.setEncoding('utf8')
      stream.on('data', (chunk: string) => {
        buffer += chunk
        let newline: number
        while ((newline = buffer.indexOf('\n')) >= 0) {
          onLine(buffer.slice(0, newline))
          buffer = buffer.slice(newline + 1)
        }
      })
    }
    void exited.then(() => {
      clearTimeout(timer)
      reject(new Error(`${command.join(' ')} exited before listening:\n${tail.join('\n')}`))
    })
  })
  return {
    pid: child.pid!,
    url,
    child,
    spawnedAt,
    listeningAt,
    delivered,
    acceptedIds,
    refusals,
    firstLine: (text) => seen.get(text),
    logTail: () => [...tail],
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
      await exited
      clearTimeout(timer)
    },
  }
}

/** CPU seconds (user + system) a process has used so far: all its threads, or only `thread` (its main thread: the pid). */
export function cpuSeconds(pid: number, thread?: number): number {
  const { user, kernel } = cpuTimes(pid, thread)
  return user + kernel
}

/** cpuSeconds split into user mode and the kernel's time for the process (system calls: the file system's work). */
export function cpuTimes(pid: number, thread?: number): { user: number; kernel: number } {
  try {
    const stat = readFileSync(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return { user: Number(fields[11]) / TICKS_PER_SECOND, kernel: Number(fields[12]) / TICKS_PER_SECOND }
  } catch {
    return { user: NaN, kernel: NaN }
  }
}

/** CPU seconds the whole machine has spent busy so far (all cores; /proc/stat: user, nice, system, irq, softirq). */
export function machineBusySeconds(): number {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 8).map(Number)
    const [user, nice, system, , , irq, softirq] = fields
    return (user! + nice! + system! + irq! + softirq!) / TICKS_PER_SECOND
  } catch {
    return NaN
  }
}

/** A memory figure of /proc/<pid>/status (`VmHWM`, `VmRSS`), bytes; NaN when the process is gone. */
function statusBytes(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  try {
    const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match ? Number(match[1]) * 1024 : NaN
  } catch {
    return NaN
  }
}

/** Peak resident set size (VmHWM) of a process, bytes. */
export const peakRss = (pid: number): number => statusBytes(pid, 'VmHWM')

/** Resident set size now (VmRSS) of a process, bytes. */
export const currentRss = (pid: number): number => statusBytes(pid, 'VmRSS')

// ---------------------------------------------------------------------------------------------------------------
// The check: every accepted body is a file under the destination, byte for byte.

/** SHA-256 of every file under `root` (the fs sink's temp folder excluded). */
export function hashTree(root: string): Set<string> {
  const hashes = new Set<string>()
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) {
        if (entry.name !== '.hookcast-tmp') walk(path)
      } else if (entry.isFile()) {
        hashes.add(createHash('sha256').update(readFileSync(path)).digest('hex'))
      }
    }
  }
  walk(root)
  return hashes
}

export interface CheckResult {
  accepted: number
  missing: number
  files: number
  /**
   * Bodies stored whose request the load generator never saw answered 200 (given `sent`): a receiver that stored
   * a body and lost its answer, or a generator that paired an answer with the wrong request.
   */
  unanswered: number
  /** Files that are no sent request's body (a partial or corrupt write), counted like `unanswered`. */
  foreign: number
}

export function checkDelivered(
  root: string,
  accepted: readonly number[],
  factory: BodyFactory,
  sent?: { first: number; count: number },
): CheckResult {
  const hashes = hashTree(root)
  let missing = 0
  for (const seq of accepted) if (!hashes.has(factory.sha256(seq))) missing++
  let unanswered = 0
  let foreign = 0
  if (missing > 0 && sent) {
    const answered = new Set(accepted)
    for (let seq = sent.first; seq < sent.first + sent.count; seq++) {
      if (!answered.has(seq) && hashes.has(factory.sha256(seq))) unanswered++
    }
    foreign = hashes.size - (new Set(accepted).size - missing) - unanswered
  }
  return { accepted: accepted.length, missing, files: hashes.size, unanswered, foreign }
}

/** Wall time to create one new empty file in a fresh directory under the temp dir, µs (median of 5 x 100). */
export function fileCreateCost(): number {
  const dir = tempDir('hookcast-bench-create-')
  try {
    const rounds: number[] = []
    for (let round = 0; round < 5; round++) {
      const started = performance.now()
      for (let i = 0; i < 100; i++) closeSync(openSync(join(dir.path, `${round}-${i}`), 'w'))
      rounds.push(((performance.now() - started) / 100) * 1000)
    }
    return median(rounds)
  } finally {
    dir.release()
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Statistics.

/** Counts by key, added up. */
export function sumCounts(counts: Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const count of counts) for (const [key, n] of Object.entries(count)) out[key] = (out[key] ?? 0) + n
  return out
}

export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/**
 * The CPU bound, whatever the threads: the events per second at which `cpuPerEvent` (µs, all threads) keeps every
 * core busy, with the load generator's own CPU per request (`loadCpu`, a share of one core, at `perSecond` answers)
 * on the same machine taken out.
 */
export function cpuBound(sample: { cpuPerEvent: number; loadCpu: number; perSecond: number }): {
  generatorUs: number
  perSecond: number
} {
  const generatorUs = (sample.loadCpu / sample.perSecond) * 1e6
  return { generatorUs, perSecond: (cpus().length * 1e6) / (sample.cpuPerEvent + generatorUs) }
}
