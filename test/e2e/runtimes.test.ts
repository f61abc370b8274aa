/**
 * The same expectations against the real server on Node (the Node running the tests, and Node 24), Deno and Bun,
 * and the Lambda handler behind a local Function URL stand-in: signed events of every kind are stored
 * byte for byte, refusals write nothing, and SIGTERM exits cleanly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readFileSync, writeFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { missingRuntime, RUNTIMES, startServer, type RunningServer } from '../support/runtimes.ts'
import { jpeg, PAYLOADS, post, signedJson, signedThumbnail, type SignedHook } from '../support/hooks.ts'
import { listFiles, tempDir } from '../support/files.ts'
import { eventually } from '../support/wait.ts'
import { skipWhen } from '../support/skip.ts'

describe.each([...RUNTIMES, 'node24' as const, 'lambda' as const])('gateway on %s', (runtime) => {
  const missing = missingRuntime(runtime)
  if (missing) {
    it('runs there', skipWhen(missing), () => {})
    return
  }
  const dir = tempDir(`hookcast-e2e-${runtime}-`)
  const data = join(dir.path, 'data')
  let server: RunningServer
  let hookUrl: string

  beforeAll(async () => {
    const config = join(dir.path, 'config.yaml')
    writeFileSync(config, `
server: { maxBodyBytes: 16MiB }
sources:
  millicast: { path: /hooks/millicast, secrets: ["\${MILLICAST_WEBHOOK_SECRET}"] }
sinks:
  disk: { type: fs, dir: "${data}", key: "{type}/{streamId}/{timestamp}-{event}-{id}.{ext}" }
spool: { dir: "${join(dir.path, 'spool')}" }
routes:
  - to: [disk]
`)
    server = await startServer(runtime, config, { MILLICAST_WEBHOOK_SECRET: 'bWlsbGljYXN0LXRlc3Qtc2VjcmV0LTAxMjM0NTY3ODk=' })
    hookUrl = `${server.url}/hooks/millicast`
  }, 40_000)

  afterAll(async () => {
    await server?.stop()
    dir.remove()
  })

  const storedBytes = async (id: string) => {
    const file = await eventually(() => listFiles(data).find((path) => path.includes(id)))
    return readFileSync(join(data, file))
  }

  it('stores every JSON kind and thumbnails byte for byte', async () => {
    const hooks: SignedHook[] = []
    for (const payload of Object.values(PAYLOADS)) hooks.push(await signedJson(payload))
    for (let i = 0; i < 3; i++) hooks.push(await signedThumbnail({ body: jpeg(`${runtime}-${i}`, i * 400_000), timestamp: 1679973930415 + i }))
    const answers = await Promise.all(hooks.map(async (hook) => {
      const response = await post(hookUrl, hook)
      expect(response.status).toBe(200)
      return (await response.json()) as { id: string }
    }))
    for (const [i, answer] of answers.entries()) expect(await storedBytes(answer.id)).toEqual(Buffer.from(hooks[i]!.body))
    expect(listFiles(data)).toHaveLength(hooks.length)
    expect(listFiles(data).filter((path) => path.startsWith('thumbnail/ZG6NWV/sample_stream/'))).toHaveLength(3)
  })

  it('refuses bad input with the documented status and writes nothing', async () => {
    const before = listFiles(data)
    const badSignature = await signedJson(PAYLOADS.feedsStarted, btoa('wrong'))
    const hostile = await signedThumbnail({ streamId: 'ZG6NWV/..' })
    const html = { ...(await signedJson(PAYLOADS.feedsEnded)), headers: { 'content-type': 'text/html' } }
    const broken = await signedJson(PAYLOADS.feedsEnded)
    broken.body = new TextEncoder().encode('{"type":')
    expect((await post(hookUrl, badSignature)).status).toBe(401)
    expect((await post(hookUrl, hostile)).status).toBe(400)
    expect((await post(hookUrl, html)).status).toBe(415)
    expect((await post(hookUrl, broken)).status).toBe(401) // re-bodied without re-signing: the signature fails first
    expect((await post(`${server.url}/elsewhere`, badSignature)).status).toBe(404)
    expect((await fetch(hookUrl)).status).toBe(405)
    expect(listFiles(data)).toEqual(before)
  })

  it('answers 413 to a 64 MiB chunked body without taking it all', async () => {
    expect(await streamLargeBody(hookUrl, 64 * 1024 * 1024)).toBe(413)
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200)
  })

  it('exits cleanly on SIGTERM', async () => {
    expect(await server.stop()).toBe(0)
    expect(server.logs.some((line) => line.includes('"msg":"stopped"'))).toBe(true)
  })
})

/** Sends `total` bytes chunked, stopping as soon as the server answers; resolves with the status. */
function streamLargeBody(url: string, total: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const chunk = Buffer.alloc(256 * 1024, 0x41)
    let sent = 0
    let answered = false
    // A well-formed signature, or the body is refused (401) before a byte of it is read.
    const headers = { 'content-type': 'image/jpeg', 'transfer-encoding': 'chunked', 'x-millicast-signature': `sha1=${'0'.repeat(40)}` }
    const req = httpRequest(url, { method: 'POST', headers }, (res) => {
      answered = true
      res.resume()
      resolve(res.statusCode!)
      req.destroy()
    })
    req.on('error', (error) => { if (!answered) reject(error) })
    const pump = () => {
      while (!answered && sent < total) {
        sent += chunk.byteLength
        if (!req.write(chunk)) return void req.once('drain', pump)
      }
      if (!answered) req.end()
    }
    pump()
  })
}
