/**
 * hookcast's own work per event with no HTTP and no load generator: a gateway built in this process from the
 * benchmark's config (fs sink, local spool, the stream tracker), N parsed events put straight into its queue, and
 * the main thread's CPU from the first put until the fs sink has every one (puts kept at most 256 events ahead).
 * What is measured is the queue's put and an event's two deliveries (fs sink and `@streams`) with their records,
 * outcomes, counters and logs: the part of the per-event cost that is hookcast's alone, free of the HTTP stack and
 * of autocannon sharing the cores.
 *
 *   node --import tsx bench/pipeline.ts [--kind json|thumbnail] [--events 40000] [--repeats 5] [--dir /dev/shm] [--json]
 *     [--tracker on|off|both]
 *
 * `--tracker off` puts each event for the fs sink alone (no `@streams` delivery); `both` alternates the two, repeat
 * by repeat, and prints what the tracker's delivery costs: the most that feeding the tracker without a delivery of
 * its own could save (issue 26).
 * With --json it prints one JSON line instead (what `npm run bench` reads: PipelineSample in scenarios.ts).
 * The gateway's modules come from dist/node when `npm run build` made it (what `npm start` runs), from the sources
 * otherwise. Put --dir on a tmpfs (the default, /dev/shm) to leave the file system's own cost out.
 * @module
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { bodyFactory, HOOK_PATH, SECRET } from './bodies.ts'
import { cpuSeconds, ROOT } from './lib.ts'
import { crc32 } from 'node:zlib'
import type { HookEvent } from '../src/events/types.ts'
import type * as GatewayModule from '../src/gateway.ts'
import type * as LoadModule from '../src/config/load.ts'
import type * as ParseModule from '../src/events/parse.ts'
import type * as LogModule from '../src/log.ts'

const args = process.argv.slice(2)
const value = (name: string, fallback: string) => {
  const index = args.indexOf(`--${name}`)
  return index >= 0 ? args[index + 1]! : fallback
}
const kind = value('kind', 'json') as 'json' | 'thumbnail'
const events = Number(value('events', '40000'))
const repeats = Number(value('repeats', '5'))
const base = value('dir', '/dev/shm')
const tracker = value('tracker', 'on') as 'on' | 'off' | 'both'
const WARM_UP = 2_000
const BATCH = 64
const WINDOW = 256

const built = existsSync(join(ROOT, 'dist/node/src/gateway.js'))
const module = async <T>(path: string): Promise<T> =>
  import(join(ROOT, built ? `dist/node/src/${path}.js` : `src/${path}.ts`)) as Promise<T>
const { createGateway } = await module<typeof GatewayModule>('gateway')
const { parseConfig } = await module<typeof LoadModule>('config/load')
const { parseJsonHook, parseThumbnail } = await module<typeof ParseModule>('events/parse')
const { createLogger } = await module<typeof LogModule>('log')
const factory = bodyFactory({ kind, size: kind === 'json' ? 0 : 100 * 1024 })

/** The events of sequence numbers [from, from + count), parsed as ingest would (a random MAC stands in for the signature). */
async function parsed(from: number, count: number): Promise<HookEvent[]> {
  const out: HookEvent[] = []
  for (let seq = from; seq < from + count; seq++) {
    const request = factory.request(seq)
    const body = new Uint8Array(request.body) // a copy: the factory reuses its buffer
    const signature = crypto.getRandomValues(new Uint8Array(20))
    const context = { source: 'millicast', receivedAt: Date.now(), signature, bodyCrc32: crc32(body) }
    out.push(
      kind === 'json'
        ? await parseJsonHook(body, context)
        : await parseThumbnail(body, new Headers(request.headers), context),
    )
  }
  return out
}

async function once(withTracker = true): Promise<{ mainUs: number; perSecond: number }> {
  const dir = mkdtempSync(join(base, 'hookcast-pipeline-'))
  let delivered = 0
  // Info lines are made as in production, then dropped (a pipe's cost is not hookcast's).
  const gateway = await createGateway(
    parseConfig(
      `
sources:
  millicast: { path: ${HOOK_PATH}, secrets: ["${SECRET}"] }
sinks:
  disk: { type: fs, dir: "${join(dir, 'data')}" }
spool: { dir: "${join(dir, 'spool')}", maxBytes: 64GiB }
routes:
  - to: [disk]
`,
      {},
    ),
    {
      log: createLogger('info', () => {}),
      onOutcome: (report) => {
        if (report.destination === 'disk' && report.outcome === 'delivered') delivered++
      },
    },
  )
  try {
    const until = async (done: () => boolean) => {
      while (!done()) await new Promise((resolve) => setTimeout(resolve, 1))
    }
    // Puts in batches, at most WINDOW events ahead of the deliveries: a steady state, bodies still in memory when
    // delivered, as under a load the gateway keeps up with (not a backlog read back from disk).
    const destinations = withTracker ? ['disk', '@streams'] : ['disk']
    const run = async (list: HookEvent[]) => {
      const start = delivered
      for (let i = 0; i < list.length; i += BATCH) {
        await until(() => start + i - delivered <= WINDOW)
        await Promise.all(list.slice(i, i + BATCH).map((event) => gateway.queue.put(event, destinations)))
      }
      await until(() => delivered >= start + list.length)
    }
    await run(await parsed(1, WARM_UP))
    const list = await parsed(WARM_UP + 1, events)
    const cpu = cpuSeconds(process.pid, process.pid)
    const started = performance.now()
    await run(list)
    const seconds = (performance.now() - started) / 1000
    return { mainUs: ((cpuSeconds(process.pid, process.pid) - cpu) * 1e6) / events, perSecond: events / seconds }
  } finally {
    await gateway.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

type Run = { mainUs: number; perSecond: number }
const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!
const summary = (runs: Run[]) =>
  `${median(runs.map((r) => r.mainUs)).toFixed(0)} µs of main-thread CPU per event (median of ${runs.length}; ` +
  `${runs.map((r) => r.mainUs.toFixed(0)).join(', ')}), ${median(runs.map((r) => r.perSecond)).toFixed(0)} events/s delivered`
const where = `${kind}, ${events} events, ${built ? 'dist/node' : 'sources'}, ${base}`

if (tracker === 'both') {
  const [on, off]: [Run[], Run[]] = [[], []]
  for (let i = 0; i < repeats; i++) {
    on.push(await once(true))
    off.push(await once(false))
  }
  const saved = on.map((run, i) => run.mainUs - off[i]!.mainUs)
  console.log(`${where}: put + 2 deliveries = ${summary(on)}`)
  console.log(`${where}: put + fs sink only = ${summary(off)}`)
  console.log(
    `the tracker's delivery: ${median([...saved]).toFixed(0)} µs per event (pairs: ${saved.map((us) => us.toFixed(0)).join(', ')})`,
  )
  process.exit(0)
}
const runs: Run[] = []
for (let i = 0; i < repeats; i++) runs.push(await once(tracker === 'on'))
if (args.includes('--json')) {
  console.log(
    JSON.stringify({ kind, events, mainUs: runs.map((r) => r.mainUs), perSecond: runs.map((r) => r.perSecond) }),
  )
  process.exit(0)
}
console.log(`${where}: ${tracker === 'on' ? 'put + 2 deliveries' : 'put + fs sink only'} = ${summary(runs)}`)
