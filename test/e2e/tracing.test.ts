/**
 * Tracing against a real OTLP/HTTP receiver, on Node, Bun, Deno (the SDK, and Deno's built-in OpenTelemetry) and
 * the Lambda handler: signed hooks in, then a span for each request and for each delivery attempt, children of the
 * hook's span, with an HTTP destination sent the attempt's traceparent; the last spans are exported at shutdown. With
 * no OTEL_* variables set, nothing is traced, no traceparent is sent, and (on Node and Bun, where a loader hook or a
 * plugin can tell) no SDK module is loaded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readFileSync, writeFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { missingRuntime, ROOT, RUNTIMES, startServer, type Runtime, type RunningServer } from '../support/runtimes.ts'
import { PAYLOADS, post, SECRET, signedJson, STREAM_ID } from '../support/hooks.ts'
import { startReceiver, type Receiver } from '../support/receiver.ts'
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.ts'
import { tempDir, listFiles } from '../support/files.ts'
import { eventually } from '../support/wait.ts'
import { skipWhen } from '../support/skip.ts'

const SPY = `${ROOT}test/support/module-spy.mjs`
const BUN_SPY = `${ROOT}test/support/bun-module-spy.ts`
/** What only the OpenTelemetry SDK's packages load. */
const SDK_MODULES = /@opentelemetry\/(sdk-trace|resources|exporter-trace-otlp-http|otlp-exporter-base)/
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/
/** Unset whatever the machine running the tests has set (an empty value counts as unset). */
const NO_OTEL = {
  OTEL_EXPORTER_OTLP_ENDPOINT: '',
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '',
  OTEL_TRACES_EXPORTER: '',
  OTEL_DENO: '',
}

function writeConfig(dir: string, recorder: string): string {
  const config = join(dir, 'config.yaml')
  writeFileSync(
    config,
    `
sources:
  millicast: { path: /hooks/millicast, secrets: ["\${MILLICAST_WEBHOOK_SECRET}"] }
sinks:
  disk: { type: fs, dir: "${join(dir, 'data')}" }
notifiers:
  web: { type: http, url: "${recorder}/in" }
spool: { dir: "${join(dir, 'spool')}" }
delivery: { retry: { schedule: [200ms], jitter: 0 } }
routes:
  - to: [web, disk]
`,
  )
  return config
}

const variants: { name: string; runtime: Runtime; env?: Record<string, string> }[] = [
  ...RUNTIMES.map((runtime) => ({ name: runtime, runtime })),
  { name: 'deno with OTEL_DENO=true', runtime: 'deno', env: { OTEL_DENO: 'true', OTEL_DENO_CONSOLE: 'ignore' } },
  // The Lambda handler behind its local Function URL stand-in: spans exported before each invocation returns.
  { name: 'lambda', runtime: 'lambda' },
]

describe.each(variants)('traces on $name', ({ runtime, env = {} }) => {
  const missing = missingRuntime(runtime)
  if (missing) {
    it('runs there', skipWhen(missing), () => {})
    return
  }
  const dir = tempDir(`hookcast-traces-${runtime}-`)
  const spied = join(dir.path, 'modules.txt')
  let otlp: OtlpReceiver
  let recorder: Receiver
  let server: RunningServer
  let hook: { id: string; signature: string }

  beforeAll(async () => {
    otlp = await startOtlpReceiver()
    recorder = await startReceiver()
    recorder.answer = () => ({ status: recorder.requests.length === 1 ? 503 : 200 }) // attempt 1 fails, 2 succeeds
    server = await startServer(runtime, writeConfig(dir.path, recorder.url), {
      MILLICAST_WEBHOOK_SECRET: SECRET,
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'hookcast-test',
      // Nothing is exported before shutdown: the spans the test sees are those the shutdown exports.
      OTEL_BSP_SCHEDULE_DELAY: '600000',
      ...(runtime === 'node' ? spyOn(runtime, spied) : {}),
      ...env,
    })
    const signed = await signedJson(PAYLOADS.feedsStarted)
    const response = await post(`${server.url}/hooks/millicast`, signed)
    expect(response.status).toBe(200)
    hook = { id: ((await response.json()) as { id: string }).id, signature: signed.headers['x-millicast-signature']! }
    const forged = await signedJson(PAYLOADS.feedsEnded, btoa('not the secret'))
    expect((await post(`${server.url}/hooks/millicast`, forged)).status).toBe(401)
    await eventually(() => recorder.requests.length === 2 && listFiles(join(dir.path, 'data')).length === 1)
    await eventually(() => server.logs.filter((line) => line.includes('"msg":"delivered"')).length === 2)
    // A Lambda instance may be frozen once it returns: each invocation exports its spans first, so they are all
    // here before the function stops (the handler's hook and first attempts, the scheduled run's second attempt).
    if (runtime === 'lambda')
      await eventually(() => otlp.spans.filter((span) => span.name === 'hookcast.delivery').length >= 4)
    expect(await server.stop()).toBe(0)
  }, 60_000)

  afterAll(async () => {
    await server?.kill()
    await Promise.all([otlp?.close(), recorder?.close()])
    dir.remove()
  })

  const spans = (name: string, attributes: Record<string, unknown>) =>
    otlp.spans.filter(
      (span) =>
        span.name === name && Object.entries(attributes).every(([key, value]) => span.attributes[key] === value),
    )
  const one = (name: string, attributes: Record<string, unknown>) =>
    eventually(() => {
      const found = spans(name, attributes)
      return found.length === 1 ? found[0]! : undefined
    })

  it('exports a span for each hook request, accepted or refused, with what it was', async () => {
    const accepted = await one('hookcast.hook', { 'hookcast.hook.id': hook.id })
    expect(accepted).toMatchObject({
      service: 'hookcast-test',
      attributes: {
        'hookcast.source': 'millicast',
        'hookcast.hook.kind': 'feeds',
        'hookcast.hook.event': 'started',
        'hookcast.stream.id': STREAM_ID,
        'hookcast.outcome': 'accepted',
        'http.response.status_code': 200,
        'hookcast.destinations': 3, // web, disk and the stream tracker
      },
    })
    const refused = await one('hookcast.hook', { 'hookcast.outcome': 'bad_signature' })
    expect(refused.attributes['http.response.status_code']).toBe(401)
    expect(otlp.problems).toEqual([])
  })

  it('exports each delivery attempt as a child of the hook span, and sends its traceparent', async () => {
    const accepted = await one('hookcast.hook', { 'hookcast.hook.id': hook.id })
    const attempt = (destination: string, number: number) =>
      one('hookcast.delivery', {
        'hookcast.hook.id': hook.id,
        'hookcast.destination': destination,
        'hookcast.delivery.attempt': number,
      })
    const failed = await attempt('web', 1)
    const delivered = await attempt('web', 2)
    const stored = await attempt('disk', 1)
    expect(failed.attributes['hookcast.delivery.outcome']).toBe('retry')
    expect(failed.statusCode).toBe(2)
    expect(delivered.attributes).toMatchObject({
      'hookcast.delivery.outcome': 'delivered',
      'hookcast.stream.id': STREAM_ID,
    })
    expect(stored.attributes['hookcast.delivery.outcome']).toBe('delivered')
    for (const span of [failed, delivered, stored]) {
      expect(span.traceId).toBe(accepted.traceId)
      expect(span.parentSpanId).toBe(accepted.spanId)
    }
    for (const [i, span] of [failed, delivered].entries()) {
      const sent = TRACEPARENT.exec(String(recorder.requests[i]!.headers.traceparent))
      expect(sent?.[1]).toBe(accepted.traceId)
      expect(sentFrom(sent![2]!, span)).toBe(true)
    }
  })

  /** The traceparent names the attempt's span, or (Deno's built-in) the fetch span Deno made as its child. */
  function sentFrom(spanId: string, attempt: ReceivedSpan): boolean {
    if (spanId === attempt.spanId) return true
    return otlp.spans.some((span) => span.spanId === spanId && span.parentSpanId === attempt.spanId)
  }

  it('never exports a body or a secret', () => {
    expect(spans('hookcast.hook', { 'hookcast.hook.id': hook.id })).toHaveLength(1)
    const exported = JSON.stringify(otlp.spans)
    for (const secret of [hook.signature.slice('sha1='.length), SECRET, String(PAYLOADS.feedsStarted.data.started)])
      expect(exported).not.toContain(secret)
  })

  // Node only: a loader hook there can list the modules loaded.
  if (runtime === 'node') {
    it('loads the SDK (the loader hook sees it)', () => {
      expect(readFileSync(spied, 'utf8')).toMatch(SDK_MODULES)
    })
  }
})

describe.each(RUNTIMES)('no OTEL_* variables, on %s', (runtime) => {
  const missing = missingRuntime(runtime)
  if (missing) {
    it('runs there', skipWhen(missing), () => {})
    return
  }
  const dir = tempDir(`hookcast-untraced-${runtime}-`)
  const spied = join(dir.path, 'modules.txt')
  let recorder: Receiver
  let server: RunningServer

  beforeAll(async () => {
    recorder = await startReceiver()
    server = await startServer(runtime, writeConfig(dir.path, recorder.url), {
      MILLICAST_WEBHOOK_SECRET: SECRET,
      ...NO_OTEL,
      ...spyOn(runtime, spied),
    })
  }, 40_000)

  afterAll(async () => {
    await server?.stop()
    await recorder?.close()
    dir.remove()
  })

  it('traces nothing and sends no traceparent', async () => {
    expect((await post(`${server.url}/hooks/millicast`, await signedJson(PAYLOADS.feedsStarted))).status).toBe(200)
    await eventually(() => recorder.requests.length === 1)
    expect(recorder.requests[0]!.headers.traceparent).toBeUndefined()
    expect(server.logs.some((line) => line.includes('tracing on'))).toBe(false)
  })

  // Node and Bun, where a loader hook or a plugin can see modules load (Deno has neither).
  if (runtime !== 'deno') {
    it('loads no module of the OpenTelemetry SDK', () => {
      const loaded = readFileSync(spied, 'utf8')
      expect(loaded).toContain(runtime === 'node' ? '/src/ingest.js' : 'preloaded') // the spy was there
      expect(loaded).not.toMatch(SDK_MODULES)
    })
  }
  if (runtime === 'bun') {
    it("(Bun's tripwire does see the SDK load when something loads it)", () => {
      const file = join(dir.path, 'control.txt')
      const run = spawnSync(`${ROOT}node_modules/.bin/bun`, ['-e', "await import('@opentelemetry/sdk-trace-base')"], {
        cwd: ROOT,
        env: { ...process.env, ...spyOn('bun', file) },
      })
      expect(run.status).toBe(0)
      expect(readFileSync(file, 'utf8')).toMatch(SDK_MODULES)
    })
  }
})

/** The environment that makes a gateway list the modules it loads in `file` (Node: a loader hook; Bun: a plugin). */
function spyOn(runtime: Runtime, file: string): Record<string, string> {
  if (runtime === 'node') return { NODE_OPTIONS: `--import=${SPY}`, MODULE_SPY_FILE: file }
  if (runtime === 'bun') return { BUN_OPTIONS: `--preload=${BUN_SPY}`, MODULE_SPY_FILE: file }
  return {}
}
