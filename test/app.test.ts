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
const stored = (count: number) => eventually(() => (listFiles(data()).length === count ? listFiles(data()) : false))

beforeEach(async () => {
  dir = tempDir()
  logs = []
  const config = parseConfig(
    `
server: { maxBodyBytes: 64KiB }
sources:
  millicast: { path: /hooks/millicast, secrets: ["${OTHER_SECRET}", "${SECRET}"] }
sinks:
  disk: { type: fs, dir: "${dir.path}/data", key: "{type}/{streamId}/{event}-{id}.{ext}" }
spool: { dir: "${dir.path}/spool" }
routes:
  - when: { type: [thumbnail, feeds, recordings, media, transcoder, viewerConnection, clips] }
    to: [disk]
`,
    {},
  )
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
      const answer = (await response.json()) as { id: string; type: string }
      expect(answer).toMatchObject({ ok: true, type: payload.type })
      const file = await eventually(() => listFiles(data()).find((path) => path.includes(answer.id)))
      expect(readFileSync(join(data(), file))).toEqual(Buffer.from(hook.body))
    }
    expect(listFiles(data())).toHaveLength(Object.keys(PAYLOADS).length)
    expect(listFiles(data())).toEqual(
      expect.arrayContaining([expect.stringMatching(/^feeds\/ZG6NWV\/sample_stream\/started-[0-9a-f]{24}\.json$/)]),
    )
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
    const response = await send(
      await signedJson({ type: 'clips', event: 'ready', timestamp: 1700000000000, data: { streamId: 'A/b' } }),
    )
    expect(response.status).toBe(200)
    expect(await stored(1)).toEqual([expect.stringMatching(/^clips\/A\/b\/ready-/)])
  })

  it('accepts the second secret during rotation', async () => {
    expect((await send(await signedJson(PAYLOADS.feedsEnded, OTHER_SECRET))).status).toBe(200)
    await stored(1)
  })

  it.each([
    [
      '401 for a bad signature',
      async () => ({ ...(await signedJson(PAYLOADS.feedsStarted, btoa('wrong'))) }),
      401,
      'bad_signature',
    ],
    [
      '401 for a missing signature',
      async () => {
        const hook = await signedJson(PAYLOADS.feedsStarted)
        delete hook.headers['x-millicast-signature']
        return hook
      },
      401,
      'bad_signature',
    ],
    ['400 for malformed JSON', async () => signedRaw('{"type":"feeds",'), 400, 'malformed_json'],
    ['400 for JSON that is not an envelope', async () => signedJson({ hello: 'world' }), 400, 'malformed_envelope'],
    [
      '400 for a thumbnail with a path in its feed id',
      async () => signedThumbnail({ feedId: '../../x' }),
      400,
      'bad_feed_id',
    ],
    [
      '400 for a thumbnail with an ISO timestamp',
      async () => signedThumbnail({ timestamp: '2023-03-28T03:34:00.650Z' }),
      400,
      'bad_timestamp',
    ],
    [
      '400 for a "thumbnail" that is not a JPEG',
      async () => signedThumbnail({ body: new TextEncoder().encode('<svg/>') }),
      400,
      'not_a_jpeg',
    ],
    [
      '413 for a body over maxBodyBytes',
      async () => signedThumbnail({ body: jpeg('big', 70_000) }),
      413,
      'body_too_large',
    ],
    [
      '415 for another content type',
      async () => {
        const hook = await signedJson(PAYLOADS.feedsStarted)
        hook.headers['content-type'] = 'text/html'
        return hook
      },
      415,
      'unsupported_content_type',
    ],
  ])('answers %s and writes nothing', async (_, make, status, reason) => {
    const response = await send(await make())
    expect(response.status).toBe(status)
    expect(await response.json()).toMatchObject({ ok: false, error: reason })
    expect(await gateway.queue.stats()).toMatchObject({ pendingEvents: 0, bytes: 0 })
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
    await send(
      await signedJson({ ...PAYLOADS.feedsStarted, data: { ...PAYLOADS.feedsStarted.data, name: 'BODY-MARKER' } }),
    )
    await send(await signedJson(PAYLOADS.feedsStarted, btoa('wrong')))
    const all = logs.join('\n')
    expect(logs.length).toBeGreaterThanOrEqual(3)
    for (const needle of [
      SECRET,
      OTHER_SECRET,
      'SECRET-MARKER-IN-BODY',
      'BODY-MARKER',
      thumb.headers['x-millicast-signature']!,
    ]) {
      expect(all).not.toContain(needle)
    }
  })
})

/**
 * Issue 11 item 7: memory before authentication. A body is read only for a request that carries a well-formed
 * signature header, the bytes all requests hold at once are capped (503), and a body must arrive in time (408).
 */
describe('app: bounds before authentication', () => {
  let bounded: Gateway
  const boundedGateway = async (server: string) => {
    bounded = await createGateway(
      parseConfig(
        `
server: ${server}
sources:
  millicast: { path: /hooks/millicast, secrets: ["${SECRET}"] }
sinks:
  disk: { type: fs, dir: "${dir.path}/data" }
spool: { dir: "${dir.path}/bounded-spool" }
routes:
  - to: [disk]
`,
        {},
      ),
      { log: createLogger('debug', (line) => logs.push(line)) },
    )
    return bounded
  }
  afterEach(async () => {
    await bounded?.close()
  })

  /**
   * A body whose bytes are produced only when read (highWaterMark 0: nothing is pulled ahead): `pulled` counts
   * the reads, `chunks` are handed out in order, then the body either ends or, with `hold`, waits for `finish()`.
   */
  function controlledBody(chunks: Uint8Array[], options: { hold?: boolean } = {}) {
    let pulled = 0
    let finish!: () => void
    const finished = new Promise<void>((resolve) => {
      finish = resolve
    })
    let cancelled = false
    const stream = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          pulled++
          const next = chunks[pulled - 1]
          if (next) return controller.enqueue(next)
          if (options.hold) await finished
          controller.close()
        },
        cancel() {
          cancelled = true
        },
      },
      { highWaterMark: 0 },
    )
    return { stream, pulled: () => pulled, finish, cancelled: () => cancelled }
  }

  function request(body: ReadableStream<Uint8Array>, headers: Record<string, string>): Request {
    return new Request(URL_BASE, { method: 'POST', body, headers, duplex: 'half' } as RequestInit)
  }

  /** A guard, not a timing check: a server without a body deadline fails here instead of hanging the suite. */
  const answered = async (response: Response | Promise<Response>): Promise<Response> => {
    const outcome = await Promise.race([
      response,
      new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 10_000)),
    ])
    if (outcome === 'hung') throw new Error('no answer: the body read has no deadline')
    return outcome
  }

  const split = (bytes: Uint8Array, size: number) =>
    Array.from({ length: Math.ceil(bytes.byteLength / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size))

  it.each([
    ['no signature header', undefined],
    ['an empty one', ''],
    ['a bare hex digest', 'a'.repeat(40)],
    ['sha256=', `sha256=${'a'.repeat(64)}`],
    ['39 hex digits', `sha1=${'a'.repeat(39)}`],
    ['41 hex digits', `sha1=${'a'.repeat(41)}`],
    ['non-hex', `sha1=${'g'.repeat(40)}`],
    ['two signatures', `sha1=${'a'.repeat(40)}, sha1=${'b'.repeat(40)}`],
  ])('refuses %s with 401 before reading a byte of the body', async (_, signature) => {
    const gateway = await boundedGateway('{ maxBodyBytes: 64KiB }')
    const body = controlledBody([new Uint8Array(1024).fill(0x41)])
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    if (signature !== undefined) headers['x-millicast-signature'] = signature
    const response = await gateway.fetch(request(body.stream, headers))
    expect(response.status).toBe(401)
    expect(await response.json()).toMatchObject({ ok: false, error: 'bad_signature' })
    expect(body.pulled()).toBe(0)
  })

  it("still answers 415 for a wrong content type first, and reads a well-formed signature's body (401 after)", async () => {
    const gateway = await boundedGateway('{ maxBodyBytes: 64KiB }')
    const html = controlledBody([new Uint8Array(10)])
    expect((await gateway.fetch(request(html.stream, { 'content-type': 'text/html' }))).status).toBe(415)
    expect(html.pulled()).toBe(0)
    const wrong = controlledBody([new TextEncoder().encode('{}')])
    const response = await gateway.fetch(
      request(wrong.stream, { 'content-type': 'application/json', 'x-millicast-signature': `SHA1=${'A'.repeat(40)}` }),
    )
    expect(response.status).toBe(401)
    expect(await response.json()).toMatchObject({ message: 'signature does not match any configured secret' })
    expect(wrong.pulled()).toBeGreaterThan(0)
  })

  describe('the bytes in flight, shared between clients (issue 20 item 1)', () => {
    const MiB = 1024 * 1024
    // A share of 1 MiB + 64 KiB per client; a reserve of 256 KiB for small bodies, 64 KiB of it per client.
    const server = '{ maxBodyBytes: 1MiB, maxInFlightBytes: 4MiB, bodyTimeout: 60s }'
    const PLATFORM = { clientAddress: '198.51.100.1' }
    const fromPlatform = (hook: { body: Uint8Array; headers: Record<string, string> }) =>
      bounded.fetch(
        new Request(URL_BASE, {
          method: 'POST',
          headers: hook.headers,
          body: hook.body as Uint8Array<ArrayBuffer>,
        }),
        PLATFORM,
      )
    /** An upload of `declared` bytes that sends `sent` of them and waits; `finish` ends it (400, short). */
    const held = (declared: number, sent: number, clientAddress: string) => {
      const body = controlledBody(split(new Uint8Array(sent).fill(0x41), 64 * 1024), { hold: true })
      const headers = {
        'content-type': 'image/jpeg',
        'x-millicast-signature': `sha1=${'0'.repeat(40)}`,
        'content-length': String(declared),
      }
      const answer = bounded.fetch(request(body.stream, headers), { clientAddress })
      return { ...body, answer: Promise.resolve(answer), sentAll: () => body.pulled() > Math.ceil(sent / (64 * 1024)) }
    }

    it('counts what arrived: four idle uploads declaring the largest body hold none of it, hooks get 200', async () => {
      await boundedGateway(server)
      const idle = Array.from({ length: 4 }, () => held(MiB, 1, '203.0.113.9'))
      await eventually(() => idle.every((upload) => upload.sentAll()))
      expect((await fromPlatform(await signedJson(PAYLOADS.feedsStarted))).status).toBe(200)
      expect((await fromPlatform(await signedThumbnail({ body: jpeg('idle', 900_000) }))).status).toBe(200)
      for (const upload of idle) upload.finish()
      for (const upload of idle) expect((await upload.answer).status).toBe(400) // short of its declared length
    })

    it('cuts the uploads of a client over its share for a client within its own, answering them 503 busy', async () => {
      await boundedGateway(server)
      // Alone, one client may fill the budget: four uploads of 1 MiB less a byte hold 4 MiB less 4 bytes.
      const hog = Array.from({ length: 4 }, () => held(MiB, MiB - 1, '203.0.113.9'))
      await eventually(() => hog.every((upload) => upload.sentAll()))
      const thumbnail = await fromPlatform(await signedThumbnail({ body: jpeg('fair', 200_000) }))
      expect(thumbnail.status).toBe(200)
      const cut = await Promise.race(hog.map((upload) => upload.answer))
      expect(cut.status).toBe(503)
      expect(cut.headers.get('retry-after')).toMatch(/^\d+$/)
      expect(await cut.json()).toMatchObject({ ok: false, error: 'busy' })
      for (const upload of hog) upload.finish()
      const statuses = (await Promise.all(hog.map((upload) => upload.answer))).map((response) => response.status)
      expect(statuses.sort()).toEqual([400, 400, 400, 503])
    })

    it('keeps a reserve for small hooks when clients within their share fill the budget', async () => {
      await boundedGateway(server)
      const addresses = ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4']
      const fair = addresses.map((address) => held(MiB, MiB - 1, address))
      await eventually(() => fair.every((upload) => upload.sentAll()))
      // Nobody is over their share, so nothing is cut: a large body has no room, a small hook has the reserve.
      const large = await fromPlatform(await signedThumbnail({ body: jpeg('no room', 200_000) }))
      expect(large.status).toBe(503)
      expect((await fromPlatform(await signedJson(PAYLOADS.feedsEnded))).status).toBe(200)
      expect((await fromPlatform(await signedThumbnail({ body: jpeg('small', 30_000) }))).status).toBe(200)
      for (const upload of fair) upload.finish()
      for (const upload of fair) expect((await upload.answer).status).toBe(400)
    })
  })

  it("gives a request's share back however it ends: 401 after reading, 400, 413, 408, 200", async () => {
    // Room for exactly one maximal body: a share that leaked would turn the next request into a 503.
    const gateway = await boundedGateway('{ maxBodyBytes: 64KiB, maxInFlightBytes: 64KiB, bodyTimeout: 200ms }')
    const send = async (hook: { body: Uint8Array; headers: Record<string, string> }, chunked = false) => {
      const headers = chunked ? hook.headers : { ...hook.headers, 'content-length': String(hook.body.byteLength) }
      return (await gateway.fetch(request(controlledBody(split(hook.body, 16_384)).stream, headers))).status
    }
    const thumb = await signedThumbnail({ body: jpeg('share', 60_000) })
    const padded = (text: string) => signedRaw(text + ' '.repeat(60_000 - text.length))
    expect(
      await send({ ...thumb, headers: { ...thumb.headers, 'x-millicast-signature': `sha1=${'0'.repeat(40)}` } }),
    ).toBe(401)
    expect(await send(await padded('{"type":'))).toBe(400)
    expect(await send(await signedThumbnail({ body: jpeg('too big', 70_000) }), true)).toBe(413)
    const stuck = controlledBody(split(thumb.body, 30_000).slice(0, 1), { hold: true })
    expect(
      (
        await answered(
          gateway.fetch(request(stuck.stream, { ...thumb.headers, 'content-length': String(thumb.body.byteLength) })),
        )
      ).status,
    ).toBe(408)
    expect(await send(thumb)).toBe(200)
    expect(await send(await padded(JSON.stringify(PAYLOADS.feedsStarted)), true)).toBe(200)
  })

  it('answers 408 to a body that stops arriving, stops reading it, and stays up', async () => {
    const gateway = await boundedGateway('{ maxBodyBytes: 64KiB, bodyTimeout: 300ms }')
    const hook = await signedJson(PAYLOADS.feedsStarted)
    const stalled = controlledBody([hook.body.subarray(0, 20)], { hold: true })
    const response = await answered(
      gateway.fetch(request(stalled.stream, { ...hook.headers, 'content-length': String(hook.body.byteLength) })),
    )
    expect(response.status).toBe(408)
    expect(await response.json()).toMatchObject({ ok: false, error: 'body_timeout' })
    expect(stalled.cancelled()).toBe(true)
    expect((await gateway.fetch(new Request('http://hookcast.test/healthz'))).status).toBe(200)
    expect((await post(URL_BASE, hook, gateway.fetch)).status).toBe(200)
  })
})
