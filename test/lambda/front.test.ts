/**
 * The Lambda entry behind front.ts (a local Function URL) in its own process, driven by real HTTP requests as the
 * platform sends them: what a server does, done the Lambda way (deliveries before the answer, the rest from the
 * schedule).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { FEED_ID, jpeg, PAYLOADS, post, SECRET, signedJson, signedThumbnail } from '../support/hooks.ts'
import { rawRequest } from '../support/raw-http.ts'
import { sign } from '../../src/verify/verifier.ts'
import { listFiles, tempDir } from '../support/files.ts'
import { startReceiver, type Receiver } from '../support/receiver.ts'
import { eventually } from '../support/wait.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const ADMIN_TOKEN = 'front-admin-token-0123456789abcdef'

describe('the Lambda entry behind a local Function URL', () => {
  const dir = tempDir('hookcast-front-')
  let receiver: Receiver
  let child: ChildProcess
  let url: string
  const logs: string[] = []

  beforeAll(async () => {
    receiver = await startReceiver()
    const config = join(dir.path, 'config.yaml')
    writeFileSync(
      config,
      `
sources:
  millicast: { path: /hooks/millicast, secrets: ["\${MILLICAST_WEBHOOK_SECRET}"] }
sinks:
  disk: { type: fs, dir: "${join(dir.path, 'data')}", key: "{type}/{id}.{ext}" }
notifiers:
  hook: { type: http, url: "${receiver.url}/in" }
routes:
  - to: [disk]
  - when: { type: media }
    to: [hook]
spool: { dir: "${join(dir.path, 'spool')}" }
delivery: { retry: { schedule: [200ms], jitter: 0 } }
admin: { token: "\${HOOKCAST_ADMIN_TOKEN}" }
`,
    )
    child = spawn(process.execPath, ['--import', 'tsx', 'test/lambda/front.ts', '--config', config], {
      cwd: ROOT,
      env: {
        ...process.env,
        PORT: '0',
        HOST: '127.0.0.1',
        MILLICAST_WEBHOOK_SECRET: SECRET,
        HOOKCAST_ADMIN_TOKEN: ADMIN_TOKEN,
        HOOKCAST_FRONT_SCHEDULE: '300',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the front did not start:\n${logs.join('\n')}`)), 30_000)
      for (const stream of [child.stdout!, child.stderr!]) {
        stream.setEncoding('utf8')
        stream.on('data', (chunk: string) => {
          logs.push(...chunk.split('\n').filter(Boolean))
          const match = /"msg":"listening","url":"([^"]+)"/.exec(chunk)
          if (match) {
            clearTimeout(timer)
            resolve(match[1]!)
          }
        })
      }
      child.once('exit', (code) => reject(new Error(`the front exited with ${code}:\n${logs.join('\n')}`)))
    })
  }, 60_000)

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    }
    await receiver?.close()
    dir.remove()
  })

  const stored = (id: string) => {
    const name = listFiles(join(dir.path, 'data')).find((file) => file.includes(id))
    return name === undefined ? undefined : new Uint8Array(readFileSync(join(dir.path, 'data', name)))
  }

  it('stores a POSTed thumbnail byte for byte before answering', async () => {
    const hook = await signedThumbnail({ body: jpeg('front', 1_000_000) })
    const response = await post(`${url}/hooks/millicast`, hook)
    expect(response.status).toBe(200)
    const { id } = (await response.json()) as { id: string }
    expect(stored(id)).toEqual(hook.body)
  })

  it('refuses a body Lambda cannot take (6 MB with its base64) as a Function URL does', async () => {
    const hook = await signedThumbnail({ body: jpeg('front-big', 5_000_000) })
    expect((await post(`${url}/hooks/millicast`, hook)).status).toBe(413)
  })

  it('delivers from the schedule what a destination that was down could not take', async () => {
    let up = false
    receiver.answer = () => (up ? {} : { status: 503 })
    const hook = await signedJson(PAYLOADS.mediaCompleted)
    const response = await post(`${url}/hooks/millicast`, hook)
    expect(response.status).toBe(200)
    expect(receiver.requests.length).toBeGreaterThanOrEqual(1)
    up = true
    const upAt = Date.now()
    const delivered = () =>
      receiver.requests.filter(
        (r) => r.at >= upAt && r.body.toString().includes(PAYLOADS.mediaCompleted.data.mediaAssetId),
      )
    await eventually(() => delivered().length === 1)
    // Delivered once: nothing more is sent for it.
    await new Promise((resolve) => setTimeout(resolve, 800))
    expect(delivered()).toHaveLength(1)
  })

  it('serves the admin page and API from the same function', async () => {
    const page = await fetch(`${url}/`)
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('<form')
    const status = await fetch(`${url}/api/status`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    expect(status.status).toBe(200)
    expect(
      ((await status.json()) as { destinations: { destination: string }[] }).destinations
        .map((d) => d.destination)
        .sort(),
    ).toEqual(['disk', 'hook'])
  })

  it('issue 20 item 5: refuses a path with encoded dot segments with 400, as the servers do', async () => {
    const bearer: Array<[string, string]> = [['Authorization', `Bearer ${ADMIN_TOKEN}`]]
    for (const target of ['/hooks/millicast/%2e%2e/%2e%2e/api/status', '/hooks/millicast/../../api/status']) {
      const outcome = await rawRequest(url, { method: 'GET', target, headers: bearer })
      expect(outcome.kind === 'answer' && outcome.response.status).toBe(400)
    }
  })

  it("issue 20 item 6: takes a stream id's UTF-8 bytes, refuses bytes not UTF-8, as servers do", async () => {
    const body = jpeg('front utf-8', 2000)
    const signature = await sign(body, SECRET)
    const thumbnail = (streamId: Uint8Array) =>
      rawRequest(url, {
        method: 'POST',
        target: '/hooks/millicast',
        body,
        headers: [
          ['Content-Type', 'image/jpeg'],
          ['X-Millicast-Signature', signature],
          ['X-Millicast-Feed-Id', FEED_ID],
          ['X-Millicast-Stream-Id', streamId],
          ['X-Millicast-Timestamp', '1679973930415'],
        ],
      })
    const accepted = await thumbnail(Buffer.from('N/日本', 'utf8'))
    expect(accepted.kind === 'answer' && accepted.response.status).toBe(200)
    const streams = await fetch(`${url}/api/streams`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    const listed = ((await streams.json()) as { streams: Array<{ streamId: string }> }).streams
    expect(listed.map((stream) => stream.streamId)).toContain('N/日本')
    const refused = await thumbnail(Buffer.from([0x4e, 0x2f, 0xff, 0x41]))
    expect(refused.kind === 'answer' && refused.response.status).toBe(400)
  })
})
