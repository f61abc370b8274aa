/**
 * The load generator, run as its own process so it does not share an event loop with the orchestrator:
 * autocannon sending distinct signed hooks over keep-alive connections, a warm-up, then the measured run; with
 * several URLs (three gateways sharing one NATS) one autocannon run spreads its connections over them.
 *
 *   node --import tsx bench/load.ts '<json LoadOptions>'
 *
 * Prints `load-start` (before the warm-up), `measure-start` and `measure-end` lines (the orchestrator samples the
 * server's CPU at each) and writes a LoadResult as JSON to `options.out`, including every sequence number answered
 * 200 (warm-up included), so the check can recompute each accepted body.
 *
 * Connections: autocannon reopens a connection the server closed without counting it (only resets and timeouts
 * are errors), and Deno 2.9.x closes one after every request with a body over ~1 KB (denoland/deno#36657). So the
 * generator counts the TCP connections autocannon opens (net.connect, which its HTTP client calls for each): the
 * reconnects are those beyond one per autocannon connection per phase.
 * @module
 */
import { writeFileSync } from 'node:fs'
import net from 'node:net'
import { performance } from 'node:perf_hooks'
import autocannon from 'autocannon'
import { bodyFactory, checkFactory, HOOK_PATH, type BodyKind } from './bodies.ts'

export interface LoadOptions {
  /**
   * The receiver, or several instances of it: autocannon then opens connection i to `url[i % url.length]`, so the
   * connections are split evenly and each instance gets as many requests as it answers (a closed loop per connection).
   */
  url: string | string[]
  kind: BodyKind
  size: number
  connections: number
  warmupSeconds: number
  seconds: number
  /** First sequence number; each request takes the next. */
  seqBase: number
  out: string
}

export interface LoadResult {
  /** Answers 200 in the measured run, and per second. */
  ok: number
  perSecond: number
  /** Answers other than 200, connection errors and timeouts in the measured run. */
  other: number
  errors: number
  timeouts: number
  statuses: Record<string, number>
  /** Answers by status over the whole load, warm-up included. */
  allStatuses: Record<string, number>
  /** Connections opened beyond the first of each autocannon connection (server closes, resets, timeouts), warm-up included. */
  reconnects: number
  /** Latency of answered requests in the measured run, ms. */
  p50: number
  p99: number
  mean: number
  seconds: number
  /** CPU the generator itself used during the measured run, as a share of one core. */
  cpu: number
  /** Sequence numbers answered 200, warm-up included, and the seconds warm-up and measured run took together. */
  accepted: number[]
  /** Requests built (sequence numbers seqBase .. seqBase + sent - 1), answered or not. */
  sent: number
  totalSeconds: number
}

interface Phase {
  ok: number
  latencies: number[]
  statuses: Record<string, number>
}

let connects = 0
const connect = net.connect
net.connect = function (this: unknown, ...args: Parameters<typeof net.connect>) {
  connects++
  return Reflect.apply(connect, this, args)
} as typeof net.connect

async function main(options: LoadOptions): Promise<void> {
  const factory = bodyFactory({ kind: options.kind, size: options.size })
  checkFactory(factory, options.seqBase)
  let seq = options.seqBase
  const accepted: number[] = []
  let phase: Phase = { ok: 0, latencies: [], statuses: {} }

  const drive = (seconds: number) =>
    autocannon({
      url: options.url,
      connections: options.connections,
      duration: seconds,
      pipelining: 1,
      timeout: 30,
      requests: [
        {
          method: 'POST',
          path: HOOK_PATH,
          setupRequest(request: Record<string, unknown>, context: Record<string, number>) {
            const n = seq++
            const built = factory.request(n)
            context.seq = n
            context.sent = performance.now()
            return { ...request, method: 'POST', path: HOOK_PATH, headers: built.headers, body: built.body }
          },
          onResponse(status: number, _body: string, context: Record<string, number>) {
            const current = phase
            current.latencies.push(performance.now() - context.sent!)
            current.statuses[status] = (current.statuses[status] ?? 0) + 1
            if (status === 200) {
              current.ok++
              accepted.push(context.seq!)
            }
          },
        },
      ],
    })

  console.log('load-start')
  const began = performance.now()
  let phases = 0
  if (options.warmupSeconds > 0) {
    await drive(options.warmupSeconds)
    phases++
  }
  const warmup = phase
  phase = { ok: 0, latencies: [], statuses: {} }
  console.log('measure-start')
  const cpuBefore = process.cpuUsage()
  const started = performance.now()
  const result = await drive(options.seconds)
  const seconds = (performance.now() - started) / 1000
  const cpu = process.cpuUsage(cpuBefore)
  phases++
  console.log('measure-end')
  const allStatuses: Record<string, number> = { ...warmup.statuses }
  for (const [status, n] of Object.entries(phase.statuses)) allStatuses[status] = (allStatuses[status] ?? 0) + n

  const sorted = Float64Array.from(phase.latencies).sort()
  const at = (q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : NaN)
  const out: LoadResult = {
    ok: phase.ok,
    perSecond: phase.ok / seconds,
    other: sorted.length - phase.ok,
    errors: result.errors,
    timeouts: result.timeouts,
    statuses: phase.statuses,
    allStatuses,
    reconnects: Math.max(0, connects - phases * options.connections),
    p50: at(0.5),
    p99: at(0.99),
    mean: sorted.reduce((a, b) => a + b, 0) / (sorted.length || 1),
    seconds,
    cpu: (cpu.user + cpu.system) / 1e6 / seconds,
    accepted,
    sent: seq - options.seqBase,
    totalSeconds: (performance.now() - began) / 1000,
  }
  writeFileSync(options.out, JSON.stringify(out))
}

await main(JSON.parse(process.argv[2]!) as LoadOptions)
