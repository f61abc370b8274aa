/**
 * Issue 11, "Also build": hostile input against the real gateway on Node, Deno and Bun.
 *
 * A seeded fuzz pass over the JSON and thumbnail parsers (see fuzz.ts: random and mutated bodies and header values,
 * signed and not), sent on raw sockets so that any bytes can go in a header. Checked for every answer: a 2xx, or a
 * clear 4xx (JSON with a reason; a runtime's own refusal of a request it cannot parse is counted apart), never a
 * 5xx, never a hang. Then: the process is still up and answering, its memory stayed bounded, it shuts down cleanly,
 * nothing was written outside the sinks' and the spool's directories, and it starts again on the same directories.
 *
 * The seed is printed; rerun one with HOOKCAST_FUZZ_SEED=<seed> (HOOKCAST_FUZZ_CASES=<n> for more or fewer cases).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { RUNTIMES, startServer, type RunningServer } from '../support/runtimes.ts'
import { OTHER_SECRET, PAYLOADS, post, SECRET, signedJson, signedThumbnail } from '../support/hooks.ts'
import { listFiles, tempDir } from '../support/files.ts'
import { MiB, rssBytes, rssSampler } from '../support/memory.ts'
import { rawRequest, type RawOutcome } from '../support/raw-http.ts'
import { describeCase, fuzzCase, fuzzSeed, knownCases, type FuzzCase } from './fuzz.ts'

const SEED = fuzzSeed(process.env.HOOKCAST_FUZZ_SEED)
const CASES = Number(process.env.HOOKCAST_FUZZ_CASES || 500)
const CONCURRENCY = 4
console.log(`hostile fuzz: seed ${SEED}, ${CASES} cases per runtime (rerun: HOOKCAST_FUZZ_SEED=${SEED} npx vitest run test/security/hostile.test.ts)`)

/** Statuses a runtime answers by itself, without JSON, to a request it will not hand to the app. */
const RUNTIME_REFUSALS = new Set([400, 408, 413, 414, 431])

describe.each(RUNTIMES)('hostile input on %s', (runtime) => {
  const root = tempDir(`hookcast-hostile-${runtime}-`)
  // Nested, so that a `../..` escape from a sink still lands inside the temporary root where the walk sees it.
  const jail = join(root.path, 'jail', 'a', 'b', 'c')
  const config = join(root.path, 'config.yaml')
  let server: RunningServer
  let baseline = 0
  let peak = 0

  beforeAll(async () => {
    // Three fs sinks between them put every header- and payload-derived value into a path: the README's
    // `{streamId}/latest.{ext}`, the default key, and every placeholder at once.
    writeFileSync(config, `
server: { maxBodyBytes: 16MiB, shutdownGrace: 3s }
sources:
  millicast: { path: /hooks/millicast, secrets: ["${SECRET}", "${OTHER_SECRET}"] }
sinks:
  latest: { type: fs, dir: "${join(jail, 'latest')}", key: "{streamId}/latest.{ext}" }
  all: { type: fs, dir: "${join(jail, 'all')}" }
  fields: { type: fs, dir: "${join(jail, 'fields')}", key: "{source}/{accountId}/{streamName}/{feedId}/{tokenId}/{type}-{event}-{timestamp}-{date}-{time}-{id}.{ext}" }
spool: { dir: "${join(jail, 'spool')}" }
routes:
  - to: [latest, all, fields]
`)
    server = await startServer(runtime, config)
    // Warm up: one of each, so first-use allocations are not counted as growth.
    const url = `${server.url}/hooks/millicast`
    expect((await post(url, await signedJson(PAYLOADS.feedsStarted))).status).toBe(200)
    expect((await post(url, await signedThumbnail())).status).toBe(200)
    baseline = rssBytes(server.process.pid!)
  }, 60_000)

  afterAll(async () => {
    await server?.kill()
    root.remove()
  })

  it(`answers ${CASES} hostile requests with a 2xx or a clear 4xx, never a 5xx or a hang`, async () => {
    const sampler = rssSampler(server.process.pid!, 50)
    const failures: string[] = []
    const statuses = new Map<string, number>()
    const count = (key: string) => statuses.set(key, (statuses.get(key) ?? 0) + 1)
    const send = async (fuzz: FuzzCase) => {
      const outcome = await rawRequest(server.url, fuzz.request, 15_000)
      const problem = judge(fuzz, outcome)
      count(`${outcome.kind === 'answer' ? outcome.response.status : outcome.kind}${problem === 'runtime' ? ' (runtime)' : ''}`)
      if (problem && problem !== 'runtime') failures.push(`${problem}\n${describeCase(SEED, fuzz)}`)
    }
    // The issue's reproductions first, one at a time, then the seeded pass, a few at a time.
    for (const known of knownCases()) await send(known)
    let next = 0
    const worker = async () => {
      while (next < CASES) await send(fuzzCase(SEED, next++))
    }
    await Promise.all(Array.from({ length: CONCURRENCY }, worker))
    peak = sampler.stop()
    console.log(`${runtime}: seed ${SEED}: ${[...statuses].sort().map(([status, n]) => `${n}x${status}`).join(' ')}; ` +
      `RSS ${(baseline / MiB).toFixed(0)} MiB warmed up, peak +${((peak - baseline) / MiB).toFixed(0)} MiB`)
    if (failures.length) console.log(`${runtime}: ${failures.length} failures (seed ${SEED}):\n${failures.slice(0, 20).join('\n\n')}`)
    expect(failures).toEqual([])
  }, 120_000)

  it('is still up and answering, and its memory stayed bounded', async () => {
    expect(server.process.exitCode).toBeNull()
    expect(server.process.signalCode).toBeNull()
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200)
    expect((await post(`${server.url}/hooks/millicast`, await signedJson(PAYLOADS.feedsEnded))).status).toBe(200)
    // Bodies here are at most a few MB each, four at a time.
    expect(peak - baseline).toBeLessThan(200 * MiB)
  })

  it('shuts down cleanly, having written nothing outside its sinks and spool', async () => {
    expect(await server.stop()).toBe(0)
    const allowed = ['latest', 'all', 'fields', 'spool'].map((dir) => join('jail', 'a', 'b', 'c', dir) + '/')
    const outside = listFiles(root.path).filter((path) => path !== 'config.yaml' && !allowed.some((dir) => path.startsWith(dir)))
    expect(outside).toEqual([])
  })

  it('starts again on the same directories', async () => {
    server = await startServer(runtime, config)
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200)
    expect(await server.stop()).toBe(0)
  }, 60_000)
})

/** A request that is not valid HTTP/1.1: an unknown method token, or both Content-Length and Transfer-Encoding. */
function malformedHttp(fuzz: FuzzCase): boolean {
  const names = fuzz.request.headers.map(([name]) => name.toLowerCase())
  return !['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'].includes(fuzz.request.method) ||
    (names.includes('content-length') && names.includes('transfer-encoding'))
}

/**
 * What is wrong with an answer, or undefined when nothing is; `runtime` for a runtime's own refusal (no JSON) of a
 * request it would not pass to the app, which is fine but counted apart.
 */
function judge(fuzz: FuzzCase, outcome: RawOutcome): string | undefined {
  if (outcome.kind === 'hung') return 'no answer within 15 s'
  if (outcome.kind === 'closed') {
    // A runtime may drop a request it cannot parse as HTTP at all. And a request refused before its body is read
    // (401 without a well-formed signature, 415, 404) may have its connection closed under a client still sending
    // a large body: the client then sees a reset, not the answer (Bun does this). Whether the process survived is
    // checked after the pass. Anything else deserves an answer.
    if (malformedHttp(fuzz)) return 'runtime'
    const large = (fuzz.request.body?.byteLength ?? 0) >= 64 * 1024
    if (large && (outcome.error === 'EPIPE' || outcome.error === 'ECONNRESET')) return 'runtime'
    return `connection closed without an answer${outcome.error ? ` (${outcome.error})` : ''}`
  }
  const { status, headers, body } = outcome.response
  if (status >= 500) return `answered ${status}: ${body.toString('utf8').slice(0, 300)}`
  if (status < 200 || (status >= 300 && status < 400)) return `answered ${status}`
  if (fuzz.request.method === 'HEAD') return undefined
  let json: { ok?: unknown; error?: unknown } | undefined
  try {
    json = JSON.parse(body.toString('utf8')) as { ok?: unknown; error?: unknown }
  } catch {
    json = undefined
  }
  if (status < 300) {
    // Other paths (/healthz, /metrics) answer what they answer; an accepted hook says so.
    const hook = fuzz.request.method === 'POST' && fuzz.request.target.startsWith('/hooks/millicast')
    return !hook || json?.ok === true ? undefined : `answered ${status} without {"ok":true}: ${body.toString('utf8').slice(0, 200)}`
  }
  if (json && json.ok === false && typeof json.error === 'string' && json.error !== '') return undefined
  if (!headers['content-type']?.includes('json') && RUNTIME_REFUSALS.has(status)) return 'runtime'
  return `answered ${status} without a JSON reason: ${body.toString('utf8').slice(0, 200)}`
}
