import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createGateway, type Gateway } from '../src/gateway.ts'
import { parseConfig } from '../src/config/load.ts'
import { createLogger } from '../src/log.ts'
import { jpeg, OTHER_SECRET, PAYLOADS, post, SECRET, signedJson, signedRaw, signedThumbnail } from './support/hooks.ts'
import { listFiles, tempDir } from './support/files.ts'
import { eventually } from './support/wait.ts'

const URL_BASE = 'http://hookcast.test/hooks/millicast'
let dir: ReturnType<typeof tempDir>
let gateway: Gateway
let logs: string[]
const data = () => join(dir.path, 'data')
/** Waits until the sink holds `count` files (delivery happens after the answer). */
const stored = (count: number) => eventually(() => listFiles(data()).length === count ? listFiles(data()) : false)

beforeEach(async () => {
  dir = tempDir()
  logs = []
  const config = parseConfig(`
server: { maxBodyBytes: 64KiB }
sources:
  millicast: { path: /hooks/millicast, secrets: ["${OTHER_SECRET}", "${SECRET}"] }
sinks:
  disk: { type: fs, dir: "${dir.path}/data", key: "{type}/{streamId}/{event}-{id}.{ext}" }
spool: { dir: "${dir.path}/spool" }
routes:
  - when: { type: [thumbnail, feeds, recordings, media, transcoder, viewerConnection, clips] }
    to: [disk]
`, {})
  gateway = await createGateway(config, { log: createLogger('debug', (line) => logs.push(line)) })
})
afterEach(async () => {
  await gateway.close()
  dir.remove()
})

const send = (hook: Awaited<ReturnType<typeof signedJson>>, url = URL_BASE) => post(url, hook, gateway.fetch)

describe('app', () => {
  it('stores each JSON kind as its exact signed bytes and answers 200', async () => {
    for (const payload of Object.values(PAYLOADS)) {
      const hook = await signedJson(payload)
      const response = await send(hook)
      expect(response.status).toBe(200)
      const answer = await response.json() as { id: string; type: string }
      expect(answer).toMatchObject({ ok: true, type: payload.type })
      const file = (await eventually(() => listFiles(data()).find((path) => path.includes(answer.id))))
      expect(readFileSync(join(data(), file))).toEqual(Buffer.from(hook.body))
    }
    expect(listFiles(data())).toHaveLength(Object.keys(PAYLOADS).length)
    expect(listFiles(data())).toEqual(expect.arrayContaining([expect.stringMatching(/^feeds\/ZG6NWV\/sample_stream\/started-[0-9a-f]{24}\.json$/)]))
  })

  it('stores a thumbnail as its exact JPEG bytes', async () => {
    const hook = await signedThumbnail({ body: jpeg('frame', 20_000) })
    const response = await send(hook)
    expect(response.status).toBe(200)
    const [file] = await stored(1)
    expect(file).toMatch(/^thumbnail\/ZG6NWV\/sample_stream\/thumbnail-[0-9a-f]{24}\.jpg$/)
    expect(readFileSync(join(data(), file!))).toEqual(Buffer.from(hook.body))
  })

  it('accepts a kind the platform adds later and routes it', async () => {
    const response = await send(await signedJson({ type: 'clips', event: 'ready', timestamp: 1700000000000, data: { streamId: 'A/b' } }))
    expect(response.status).toBe(200)
    expect(await stored(1)).toEqual([expect.stringMatching(/^clips\/A\/b\/ready-/)])
  })

  it('accepts the second secret during rotation', async () => {
    expect((await send(await signedJson(PAYLOADS.feedsEnded, OTHER_SECRET))).status).toBe(200)
    await stored(1)
  })

  it.each([
    ['401 for a bad signature', async () => ({ ...(await signedJson(PAYLOADS.feedsStarted, btoa('wrong'))) }), 401, 'bad_signature'],
    ['401 for a missing signature', async () => {
      const hook = await signedJson(PAYLOADS.feedsStarted)
      delete hook.headers['x-millicast-signature']
      return hook
    }, 401, 'bad_signature'],
    ['400 for malformed JSON', async () => signedRaw('{"type":"feeds",'), 400, 'malformed_json'],
    ['400 for JSON that is not an envelope', async () => signedJson({ hello: 'world' }), 400, 'malformed_envelope'],
    ['400 for a thumbnail with a path in its feed id', async () => signedThumbnail({ feedId: '../../x' }), 400, 'bad_feed_id'],
    ['400 for a thumbnail with an ISO timestamp', async () => signedThumbnail({ timestamp: '2023-03-28T03:34:00.650Z' }), 400, 'bad_timestamp'],
    ['400 for a "thumbnail" that is not a JPEG', async () => signedThumbnail({ body: new TextEncoder().encode('<svg/>') }), 400, 'not_a_jpeg'],
    ['413 for a body over maxBodyBytes', async () => signedThumbnail({ body: jpeg('big', 70_000) }), 413, 'body_too_large'],
    ['415 for another content type', async () => {
      const hook = await signedJson(PAYLOADS.feedsStarted)
      hook.headers['content-type'] = 'text/html'
      return hook
    }, 415, 'unsupported_content_type'],
  ])('answers %s and writes nothing', async (_, make, status, reason) => {
    const response = await send(await make())
    expect(response.status).toBe(status)
    expect(await response.json()).toMatchObject({ ok: false, error: reason })
    expect(gateway.outbox.stats()).toMatchObject({ pendingEvents: 0, bytes: 0 })
    expect(listFiles(data())).toEqual([])
  })

  it('answers 404 on an unknown path, 405 on GET of a hook path, and serves /healthz', async () => {
    expect((await send(await signedJson(PAYLOADS.feedsStarted), 'http://hookcast.test/hooks/other')).status).toBe(404)
    const get = await gateway.fetch(new Request(URL_BASE))
    expect(get.status).toBe(405)
    expect(get.headers.get('allow')).toBe('POST')
    expect(await (await gateway.fetch(new Request('http://hookcast.test/healthz'))).json()).toEqual({ ok: true })
  })

  it('never logs a secret or a body', async () => {
    const thumb = await signedThumbnail({ body: jpeg('SECRET-MARKER-IN-BODY') })
    await send(thumb)
    await send(await signedJson({ ...PAYLOADS.feedsStarted, data: { ...PAYLOADS.feedsStarted.data, name: 'BODY-MARKER' } }))
    await send(await signedJson(PAYLOADS.feedsStarted, btoa('wrong')))
    const all = logs.join('\n')
    expect(logs.length).toBeGreaterThanOrEqual(3)
    for (const needle of [SECRET, OTHER_SECRET, 'SECRET-MARKER-IN-BODY', 'BODY-MARKER', thumb.headers['x-millicast-signature']!]) {
      expect(all).not.toContain(needle)
    }
  })
})
