/**
 * Issue 11 item 7, against the real server on Node, Deno and Bun: requests cannot make the gateway hold memory
 * before they are authenticated, the bytes held across requests are capped, and slow senders are cut off.
 *
 * The checks are bounds on memory (the server's VmRSS over its warmed-up baseline) and answers, never on time:
 * the waits below are guards against hanging.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { RUNTIMES, startServer, type RunningServer } from '../support/runtimes.ts'
import { PAYLOADS, post, SECRET, signedJson } from '../support/hooks.ts'
import { tempDir } from '../support/files.ts'
import { skipWhen } from '../support/skip.ts'
import {
  MiB,
  rssBytes,
  rssSampler,
  slowHeaders,
  upload,
  type UploadOptions,
  type UploadResult,
} from '../support/memory.ts'

const UPLOADS = 40
const SIZE = 15 * MiB
/** Well-formed, so the body is read (then refused: no secret signs to zeros). */
const WRONG_SIGNATURE = `sha1=${'0'.repeat(40)}`

describe.each(RUNTIMES)('memory and slow senders on %s', (runtime) => {
  const dir = tempDir(`hookcast-memory-${runtime}-`)
  let server: RunningServer
  let hookUrl: string
  /** The server's RSS once warmed up: every bound below is on the peak over this, across all the floods. */
  let baseline: number

  beforeAll(async () => {
    const config = join(dir.path, 'config.yaml')
    // maxInFlightBytes is left at its default, 4 x maxBodyBytes = 64 MiB.
    writeFileSync(
      config,
      `
server: { maxBodyBytes: 16MiB, bodyTimeout: 4s, headersTimeout: 2s }
sources:
  millicast: { path: /hooks/millicast, secrets: ["${SECRET}"] }
sinks:
  disk: { type: fs, dir: "${join(dir.path, 'data')}" }
spool: { dir: "${join(dir.path, 'spool')}" }
routes:
  - to: [disk]
`,
    )
    server = await startServer(runtime, config)
    hookUrl = `${server.url}/hooks/millicast`
    // Warm up the paths the uploads take, so first-use allocations are not counted as growth.
    for (let i = 0; i < 5; i++)
      expect(
        (await post(hookUrl, await signedJson({ ...PAYLOADS.feedsStarted, timestamp: 1638463486489 + i }))).status,
      ).toBe(200)
    await upload(hookUrl, { bytes: 2 * MiB, headers: { 'content-type': 'image/jpeg' } })
    baseline = rssBytes(server.process.pid!)
  }, 60_000)

  afterAll(async () => {
    await server?.stop()
    dir.remove()
  })

  /** Sends UPLOADS requests at once; returns their answers and the server's peak RSS over the baseline. */
  async function flood(
    headers: Record<string, string>,
    options: Partial<UploadOptions> & { together?: boolean } = {},
  ): Promise<{ results: UploadResult[]; growth: number }> {
    const sampler = rssSampler(server.process.pid!)
    const { together, ...uploadOptions } = options
    // together: no upload sends its last write until every upload has sent all but that or has been answered.
    let waiting = UPLOADS
    let releaseAll!: () => void
    const release = new Promise<void>((resolve) => {
      releaseAll = resolve
    })
    const one = () => {
      let arrived = false
      const arrive = () => {
        if (arrived) return
        arrived = true
        if (--waiting === 0) releaseAll()
      }
      const holdLast = together ? { reached: arrive, release } : undefined
      return upload(hookUrl, { bytes: SIZE, headers, ...uploadOptions, holdLast }).finally(arrive)
    }
    const results = await Promise.all(Array.from({ length: UPLOADS }, one))
    const growth = sampler.stop() - baseline
    const how = options.chunked ? 'chunked' : options.trickleMs ? 'trickling' : 'declared'
    console.log(
      `${runtime}: ${UPLOADS} x ${SIZE / MiB} MiB ${how}, signature ${headers['x-millicast-signature'] ? 'well-formed' : 'none'}: ` +
        `RSS ${(baseline / MiB).toFixed(0)} MiB warmed up, peak +${(growth / MiB).toFixed(0)} MiB; answers ${summary(results)}`,
    )
    return { results, growth }
  }

  /**
   * Refused before the body is read. A runtime may close the connection once it has answered, and a client still
   * sending then sees a reset instead of the answer: that is fine, a 5xx or a body kept in memory is not.
   */
  const expectRefusedUnread = async (results: UploadResult[]) => {
    for (const result of results) expect([401, 'reset']).toContain(result.status)
    for (const result of results.filter((r) => r.status === 401))
      expect(JSON.parse(result.body)).toMatchObject({ ok: false, error: 'bad_signature' })
    // The same refusal, for a client that is not still sending when it comes (Bun resets nearly all of the above).
    const small = await upload(hookUrl, { bytes: 100, headers: { 'content-type': 'image/jpeg' } })
    expect(small.status).toBe(401)
    expect(JSON.parse(small.body)).toMatchObject({
      ok: false,
      error: 'bad_signature',
      message: 'missing X-Millicast-Signature header',
    })
  }

  it(`${UPLOADS} unsigned ${SIZE / MiB} MiB uploads are refused (401) without raising RSS by 100 MiB`, async () => {
    const { results, growth } = await flood({ 'content-type': 'image/jpeg' })
    await expectRefusedUnread(results)
    expect(growth).toBeLessThan(100 * MiB)
  })

  it('the same, chunked', async () => {
    const { results, growth } = await flood({ 'content-type': 'image/jpeg' }, { chunked: true })
    await expectRefusedUnread(results)
    expect(growth).toBeLessThan(100 * MiB)
  })

  it('slow senders with a well-formed signature hold what they sent, within the 64 MiB (408, 503)', async () => {
    // Each sends all but the last KiB of 15 MiB at once, then trickles. Bytes are counted as they arrive (issue 20
    // item 1): bodies are held until server.bodyTimeout (408), or refused (503 busy) once the 64 MiB are taken.
    const { results, growth } = await flood(
      { 'content-type': 'image/jpeg', 'x-millicast-signature': WRONG_SIGNATURE },
      { trickleMs: 500 },
    )
    for (const result of results) expect([408, 503, 'reset']).toContain(result.status)
    for (const result of results.filter((r) => r.status === 503)) {
      expect(JSON.parse(result.body)).toMatchObject({ ok: false, error: 'busy' })
    }
    // At most 64 MiB of bodies at once; the rest is the runtimes' socket buffers and the garbage of bodies read in
    // part, then refused (+100 to +230 MiB seen, Bun the highest). Without the cap all 40 are held to the deadline:
    // 600 MiB.
    expect(growth).toBeLessThan(384 * MiB)
  })

  it('chunked uploads with a well-formed signature are cut at the cap; memory stays bounded', async () => {
    // All 40 are sent together, each holding back its last write until every other one has sent the rest or been
    // answered. Without the cap all 40 are read in full (401). With it, the budget counts bytes as they arrive, so
    // 4 of these 15 MiB bodies fit in the 64 MiB in flight and the rest are cut (503); a body whose bytes still sat
    // in socket buffers may be read in full once others are answered (5 was seen): a quarter is the bound.
    const { results, growth } = await flood(
      { 'content-type': 'image/jpeg', 'x-millicast-signature': WRONG_SIGNATURE },
      { chunked: true, together: true },
    )
    // 408: a body held within the budget, part of it received, whose barrier outlived server.bodyTimeout on a busy
    // machine (26 were seen on Deno): held, but never read in full.
    for (const result of results) expect([401, 408, 503, 'reset']).toContain(result.status)
    const readInFull = results.filter((result) => result.status === 401)
    expect(readInFull.length).toBeLessThanOrEqual(UPLOADS / 4)
    expect(results.filter((result) => result.status === 503).length).toBeGreaterThan(0)
    // At most 64 MiB of bodies are held at once, but bodies read in full and refused (401) are garbage the
    // runtime collects when it likes: peaks of +170 to +370 MiB were seen (Bun the highest). Without the cap all
    // 40 are held at once, with their joined copies: 1.2 GB.
    expect(growth).toBeLessThan(512 * MiB)
  })

  it('a body that trickles in is answered 408 (server.bodyTimeout)', async () => {
    const result = await upload(hookUrl, {
      bytes: 1 * MiB,
      headers: { 'content-type': 'application/json', 'x-millicast-signature': WRONG_SIGNATURE },
      trickleMs: 500,
    })
    expect(result.status).toBe(408)
    expect(JSON.parse(result.body)).toMatchObject({ ok: false, error: 'body_timeout' })
  })

  // Deno.serve has no header timeout (a connection trickling header lines stays open: put a proxy in front);
  // Bun only has an idle timeout, which a trickle resets.
  const noHeaderTimeout = runtime === 'deno' && 'Deno.serve has no header timeout'
  it('a connection that goes quiet in its headers is closed', skipWhen(noHeaderTimeout), async () => {
    const quiet = await slowHeaders(hookUrl, { guardMs: 45_000 })
    expect(quiet.closed).toBe(true)
  })

  const notNode =
    runtime !== 'node' && "server.headersTimeout is Node's only (Deno has none; a trickle resets Bun's idle timeout)"
  it('a connection trickling header lines is closed (server.headersTimeout)', skipWhen(notNode), async () => {
    const trickling = await slowHeaders(hookUrl, { trickleMs: 300, guardMs: 45_000 })
    expect(trickling.closed).toBe(true)
    expect(trickling.answer).toMatch(/^HTTP\/1\.1 408/)
  })

  it('is still up and answering', async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200)
    expect((await post(hookUrl, await signedJson(PAYLOADS.feedsEnded))).status).toBe(200)
    expect(server.process.exitCode).toBeNull()
  })
})

function summary(results: UploadResult[]): string {
  const counts = new Map<string, number>()
  for (const result of results) counts.set(String(result.status), (counts.get(String(result.status)) ?? 0) + 1)
  return [...counts].map(([status, n]) => `${n}x${status}`).join(' ')
}
