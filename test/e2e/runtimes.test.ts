/**
 * The same expectations against the real server on Node (the Node running the tests, and Node 24), Deno and Bun,
 * and the Lambda handler behind a local Function URL stand-in: signed events of every kind are stored
 * byte for byte, refusals write nothing, and SIGTERM exits cleanly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readFileSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { missingRuntime, RUNTIMES, startServer, type RunningServer } from '../support/runtimes.ts'
import { jpeg, PAYLOADS, post, signedJson, signedThumbnail, type SignedHook } from '../support/hooks.ts'
import { listFiles, tempDir } from '../support/files.ts'
import { eventually } from '../support/wait.ts'
import { skipWhen } from '../support/skip.ts'
import { fetchOnce } from '../support/fetch-once.ts'

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
    writeFileSync(
      config,
      `
server: { maxBodyBytes: 16MiB }
sources:
  millicast: { path: /hooks/millicast, secrets: ["\${MILLICAST_WEBHOOK_SECRET}"] }
sinks:
  disk: { type: fs, dir: "${data}", key: "{type}/{streamId}/{timestamp}-{event}-{id}.{ext}" }
spool: { dir: "${join(dir.path, 'spool')}" }
routes:
  - to: [disk]
`,
    )
    server = await startServer(runtime, config, {
      MILLICAST_WEBHOOK_SECRET: 'bWlsbGljYXN0LXRlc3Qtc2VjcmV0LTAxMjM0NTY3ODk=',
    })
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
    for (let i = 0; i < 3; i++)
      hooks.push(await signedThumbnail({ body: jpeg(`${runtime}-${i}`, i * 400_000), timestamp: 1679973930415 + i }))
    const answers = await Promise.all(
      hooks.map(async (hook) => {
        const response = await post(hookUrl, hook)
        expect(response.status).toBe(200)
        return (await response.json()) as { id: string }
      }),
    )
    for (const [i, answer] of answers.entries())
      expect(await storedBytes(answer.id)).toEqual(Buffer.from(hooks[i]!.body))
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
    expect((await fetchOnce(hookUrl)).status).toBe(405)
    expect(listFiles(data)).toEqual(before)
  })

  it('answers 413 to a 64 MiB chunked body without taking it all', async () => {
    const total = 64 * 1024 * 1024
    const upload = await streamLargeBody(hookUrl, total)
    // The gateway stops reading at its limit (Lambda's stand-in for a Function URL takes it all, as AWS's front does).
    if (runtime !== 'lambda') expect(upload.sent).toBeLessThan(total)
    if (upload.status === undefined) {
      // It closed while the upload went on, and the reset came before its answer could be read: its log has it.
      const refused = (line: string) => line.includes('"status":413') && line.includes('body_too_large')
      await eventually(() => server.logs.some(refused))
    } else {
      expect(upload.status).toBe(413)
    }
    expect((await fetchOnce(`${server.url}/healthz`)).status).toBe(200)
  })

  it('exits cleanly on SIGTERM', async () => {
    expect(await server.stop()).toBe(0)
    expect(server.logs.some((line) => line.includes('"msg":"stopped"'))).toBe(true)
  })
})

/**
 * Sends `total` bytes chunked on a socket of its own, a piece at a time, stopping as soon as the server answers or
 * closes. Before each piece it lets the event loop read what came in, so an answer sent before the server closed is
 * read before a write into the closed connection fails.
 */
function streamLargeBody(url: string, total: number): Promise<{ sent: number; status?: number; closed?: string }> {
  const { hostname, port, pathname } = new URL(url)
  const piece = Buffer.alloc(256 * 1024, 0x41)
  const framed = Buffer.concat([Buffer.from(`${piece.byteLength.toString(16)}\r\n`), piece, Buffer.from('\r\n')])
  // A well-formed signature, or the body is refused (401) before a byte of it is read.
  const head =
    `POST ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Type: image/jpeg\r\n` +
    `Transfer-Encoding: chunked\r\nX-Millicast-Signature: sha1=${'0'.repeat(40)}\r\nConnection: close\r\n\r\n`
  return new Promise((resolve) => {
    let sent = 0
    let received = ''
    let done = false
    const socket = connect(Number(port), hostname)
    const finish = (closed?: string) => {
      if (done) return
      done = true
      socket.destroy()
      const status = /^HTTP\/1\.[01] (\d{3}) /.exec(received)?.[1]
      resolve(status ? { sent, status: Number(status) } : { sent, closed: closed ?? 'closed' })
    }
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1')
      if (received.includes('\r\n')) finish() // the status line is all it needs
    })
    socket.on('error', (error: NodeJS.ErrnoException) => finish(error.code ?? error.message))
    socket.on('close', () => finish())
    socket.once('connect', async () => {
      socket.write(head)
      while (!done && sent < total) {
        sent += piece.byteLength
        await new Promise<void>((written) => socket.write(framed, () => written()))
        await new Promise((turn) => setImmediate(turn))
      }
      if (!done) socket.write('0\r\n\r\n')
    })
  })
}
