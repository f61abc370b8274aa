/**
 * Picture health's cost per thumbnail (src/health/picture.ts) on Node, Bun and Deno: the process's CPU (user + system,
 * every thread, so libvips' work on the thread pool counts) around each analysis, one at a time, after a warm-up.
 * Budget: 5 ms per 1280×720 thumbnail on Node and Bun. The pictures are the tests' fixtures (test/support/pictures.ts).
 *
 *   node --import tsx bench/picture.ts [--runs 200] [--runtimes node,bun,deno]
 *
 * Node measures in this process; Bun and Deno are spawned on this file with --child (Deno with start:deno's
 * permissions) and print one JSON line, which this process turns into the same one-line report.
 * @module
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { createPictureAnalyser } from '../src/health/picture.ts'
import { silentLogger } from '../src/log.ts'
import { pictureFixtures } from '../test/support/pictures.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const args = process.argv.slice(2)
const option = (name: string, fallback: string) => {
  const index = args.indexOf(`--${name}`)
  return index >= 0 ? args[index + 1]! : fallback
}
const RUNS = Number(option('runs', '200'))
const WARM_UP = 20

interface Figures {
  runtime: string
  /** CPU µs of each analysis, and the JPEGs' mean size in bytes, by picture size. */
  sizes: Record<string, Costs>
}

interface Costs {
  median: number
  p90: number
  mean: number
  bytes: number
}

const cpuMicros = () => {
  const { user, system } = process.cpuUsage()
  return user + system
}

function runtimeName(): string {
  const global = globalThis as { Bun?: { version: string }; Deno?: { version: { deno: string } } }
  if (global.Bun) return `bun ${global.Bun.version}`
  if (global.Deno) return `deno ${global.Deno.version.deno}`
  return `node ${process.versions.node}`
}

/** CPU µs per analysis of `jpegs`, taken in turn, `RUNS` times after `WARM_UP`. */
async function measure(jpegs: Uint8Array[]): Promise<Costs> {
  const analyse = createPictureAnalyser({ logger: silentLogger, maxInFlight: 1 })
  const costs: number[] = []
  for (let i = 0; i < WARM_UP + RUNS; i++) {
    const before = cpuMicros()
    const result = await analyse(jpegs[i % jpegs.length]!)
    const cost = cpuMicros() - before
    if (!('grid' in result)) throw new Error(`not analysed: ${JSON.stringify(result)}`)
    if (i >= WARM_UP) costs.push(cost)
  }
  costs.sort((a, b) => a - b)
  const mean = costs.reduce((sum, cost) => sum + cost, 0) / costs.length
  const bytes = jpegs.reduce((sum, jpeg) => sum + jpeg.length, 0) / jpegs.length
  return { median: costs[costs.length >> 1]!, p90: costs[Math.floor(costs.length * 0.9)]!, mean, bytes }
}

async function measureHere(): Promise<Figures> {
  const fixtures = await pictureFixtures()
  return {
    runtime: runtimeName(),
    sizes: { '1280×720': await measure(fixtures.varied), '1920×1080': await measure(fixtures.variedFullHd) },
  }
}

/** Runs this file under Bun or Deno and reads its figures. */
function measureIn(runtime: 'bun' | 'deno'): Figures {
  const file = fileURLToPath(import.meta.url)
  const childArgs = ['--child', '--runs', String(RUNS)]
  const { scripts } = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { scripts: Record<string, string> }
  // start:deno's permissions, as production runs; it writes nothing, so no --allow-write.
  const permissions = scripts['start:deno']!.split(/\s+/).filter((word) => /^--(allow-(?!write)|no-prompt)/.test(word))
  const command = runtime === 'bun' ? [file, ...childArgs] : ['run', ...permissions, file, ...childArgs]
  const output = execFileSync(`${ROOT}node_modules/.bin/${runtime}`, command, { cwd: ROOT, encoding: 'utf8' })
  return JSON.parse(output.trim().split('\n').at(-1)!) as Figures
}

function line(figures: Figures): string {
  const ms = (micros: number) => (micros / 1000).toFixed(2)
  const sizes = Object.entries(figures.sizes).map(
    ([size, { median, p90, mean, bytes }]) =>
      `${size} (${Math.round(bytes / 1024)} KB) median ${ms(median)} ms (p90 ${ms(p90)}, mean ${ms(mean)})`,
  )
  return `${figures.runtime.padEnd(12)} CPU per analysis: ${sizes.join('; ')}`
}

if (args.includes('--child')) console.log(JSON.stringify(await measureHere()))
else {
  const runtimes = option('runtimes', 'node,bun,deno').split(',')
  console.log(`picture analysis, ${RUNS} analyses per size after ${WARM_UP} to warm up, CPU of all threads`)
  for (const runtime of runtimes)
    console.log(line(runtime === 'node' ? await measureHere() : measureIn(runtime as 'bun' | 'deno')))
}
