/**
 * The Lambda entry (adapters/lambda.ts) invoked in-process with events shaped as AWS documents them (events.ts):
 * every hook kind through a Function URL, an HTTP API, a REST API (with and without binary media types) and an ALB.
 * Deliveries are made before the handler answers, so each object is checked at once, with no polling.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createLambda } from '../../adapters/lambda.ts'
import { createLogger, silentLogger } from '../../src/log.ts'
import { createGateway } from '../../src/gateway.ts'
import { parseConfig } from '../../src/config/load.ts'
import { jpeg, PAYLOADS, SECRET, signedJson, signedThumbnail, OTHER_SECRET, type SignedHook } from '../support/hooks.ts'
import { listFiles, tempDir } from '../support/files.ts'
import { startReceiver } from '../support/receiver.ts'
import { eventually, guard } from '../support/wait.ts'
import { albEvent, functionUrlEvent, httpApiEvent, lambdaContext, restApiEvent, scheduleEvent } from './events.ts'

const PATH = '/hooks/millicast'

interface Result {
  statusCode: number
  body: string
  isBase64Encoded: boolean
  headers?: Record<string, string>
  multiValueHeaders?: Record<string, string[]>
}

const ROUTES = `
  - to: [disk]
  - when: { type: transcoder }
    to: [hook]`

function configYaml(dir: string, hookUrl: string, extra = '', routes = ROUTES): string {
  return `
sources:
  millicast: { path: ${PATH}, secrets: ["\${MILLICAST_WEBHOOK_SECRET}"] }
sinks:
  disk: { type: fs, dir: "${join(dir, 'data')}", key: "{type}/{id}.{ext}" }
notifiers:
  hook: { type: http, url: "${hookUrl}/in" }
routes:${routes}
spool: { dir: "${join(dir, 'spool')}" }
delivery:
  timeout: 5s
  retry: { schedule: [300ms], jitter: 0 }
${extra}`
}

/**
 * A Lambda instance (one cold start) on its own directory, with an HTTP receiver for the `hook` notifier. `logs`
 * holds what it logged at info and above.
 */
async function instance(env: Record<string, string> = {}, extraConfig = '', routes = ROUTES) {
  const dir = tempDir('hookcast-lambda-')
  const receiver = await startReceiver()
  const logs: Array<Record<string, unknown>> = []
  const lambda = createLambda(
    {
      HOOKCAST_CONFIG_YAML: configYaml(dir.path, receiver.url, extraConfig, routes),
      MILLICAST_WEBHOOK_SECRET: SECRET,
      ...env,
    },
    { log: createLogger('info', (line) => logs.push(JSON.parse(line) as Record<string, unknown>)) },
  )
  const invoke = async (event: unknown, remainingMs = 30_000) =>
    (await lambda.handler(event as Parameters<typeof lambda.handler>[0], lambdaContext(remainingMs))) as Result
  const stored = (id: string) => {
    const name = listFiles(join(dir.path, 'data')).find((file) => file.includes(id))
    return name === undefined ? undefined : new Uint8Array(readFileSync(join(dir.path, 'data', name)))
  }
  return {
    dir,
    receiver,
    lambda,
    invoke,
    stored,
    logs,
    /** What the request's deliveries came to before the answer, as the function logged it. */
    beforeAnswer: () => logs.filter((line) => line.msg === 'deliveries made before answering'),
    /** Starts it (the config, the queue) with a request that delivers nothing: later requests have no cold start. */
    async warm() {
      const elsewhere = functionUrlEvent('/elsewhere', await signedJson(PAYLOADS.feedsStarted))
      expect((await invoke(elsewhere)).statusCode).toBe(404)
    },
    scheduled: (remainingMs = 60_000) => lambda.scheduled(scheduleEvent(), lambdaContext(remainingMs)),
    async close() {
      await lambda.close()
      await receiver.close()
      dir.remove()
    },
  }
}
type Instance = Awaited<ReturnType<typeof instance>>

const json = (result: Result) =>
  JSON.parse(result.body) as { ok: boolean; id: string; error?: string; message?: string }

const SHAPES = {
  'Function URL': (hook: SignedHook) => functionUrlEvent(PATH, hook),
  'HTTP API (payload 2.0)': (hook: SignedHook) => httpApiEvent(PATH, hook),
  'REST API, binary media types */*': (hook: SignedHook) => restApiEvent(PATH, hook, ['*/*']),
  'REST API, binary media types image/jpeg': (hook: SignedHook) => restApiEvent(PATH, hook, ['image/jpeg']),
  ALB: (hook: SignedHook) => albEvent(PATH, hook),
}

describe('hooks through every event shape', () => {
  let lambda: Instance
  beforeAll(async () => {
    lambda = await instance()
  })
  afterAll(async () => {
    await lambda?.close()
  })

  describe.each(Object.entries(SHAPES))('%s', (_shape, eventOf) => {
    it('stores a thumbnail byte for byte before answering', async () => {
      const hook = await signedThumbnail({ body: jpeg(`lambda-${_shape}`, 300_000) })
      const result = await lambda.invoke(eventOf(hook))
      expect(result.statusCode, result.body).toBe(200)
      expect(result.isBase64Encoded).toBe(false)
      const { id } = json(result)
      expect(lambda.stored(id)).toEqual(hook.body)
    })

    it('stores every JSON kind byte for byte before answering', async () => {
      for (const payload of Object.values(PAYLOADS)) {
        const hook = await signedJson({ ...payload, timestamp: payload.timestamp + _shape.length })
        const result = await lambda.invoke(eventOf(hook))
        expect(result.statusCode, result.body).toBe(200)
        expect(lambda.stored(json(result).id), payload.type).toEqual(hook.body)
      }
    })

    it('answers 401 to a bad signature and stores nothing', async () => {
      const before = listFiles(join(lambda.dir.path, 'data')).length
      for (const hook of [
        await signedThumbnail({ secret: OTHER_SECRET }),
        await signedJson(PAYLOADS.mediaCompleted, OTHER_SECRET),
      ]) {
        const result = await lambda.invoke(eventOf(hook))
        expect(result.statusCode).toBe(401)
        expect(json(result).error).toBe('bad_signature')
      }
      expect(listFiles(join(lambda.dir.path, 'data'))).toHaveLength(before)
    })
  })

  it('answers in the shape of the event: multi-value headers for a REST API, single ones for the others', async () => {
    const hook = await signedJson(PAYLOADS.viewerAttempt)
    const rest = await lambda.invoke(restApiEvent(PATH, hook, []))
    expect(rest.multiValueHeaders?.['content-type']).toEqual(['application/json'])
    expect(rest.headers).toBeUndefined()
    const url = await lambda.invoke(functionUrlEvent(PATH, hook))
    expect(url.headers?.['content-type']).toBe('application/json')
    expect(json(url)).toMatchObject({ ok: true, duplicate: true }) // the same hook again: deduplicated
  })

  it('answers 404 to another path and 405 to a GET', async () => {
    const hook = await signedJson(PAYLOADS.feedsStarted)
    expect((await lambda.invoke(functionUrlEvent('/elsewhere', hook))).statusCode).toBe(404)
    const get = { ...functionUrlEvent(PATH, hook), body: undefined, isBase64Encoded: false }
    get.requestContext = { ...get.requestContext, http: { ...get.requestContext.http, method: 'GET' } }
    expect((await lambda.invoke(get)).statusCode).toBe(405)
  })
})

describe('a REST API without binary media types', () => {
  let lambda: Instance
  beforeAll(async () => {
    lambda = await instance()
  })
  afterAll(async () => {
    await lambda?.close()
  })

  it('answers a JPEG turned into text with a 415 that names the fix, not a 401', async () => {
    const hook = await signedThumbnail({ body: jpeg('mangled', 50_000) })
    const event = restApiEvent(PATH, hook, [])
    expect(event.isBase64Encoded).toBe(false)
    expect(event.body.startsWith('\ufffd')).toBe(true) // FF D8 is not UTF-8: what API Gateway hands on
    const result = await lambda.invoke(event)
    expect(result.statusCode).toBe(415)
    const body = json(result)
    expect(body.error).toBe('binary_body_as_text')
    expect(body.message).toContain('binary media types')
    expect(body.message).toContain('image/jpeg')
    expect(body.message).toContain('*/*')
    expect(listFiles(join(lambda.dir.path, 'data'))).toEqual([])
  })

  it('still takes JSON hooks, which are text', async () => {
    const hook = await signedJson(PAYLOADS.recordingsCompleted)
    const result = await lambda.invoke(restApiEvent(PATH, hook, []))
    expect(result.statusCode, result.body).toBe(200)
    expect(lambda.stored(json(result).id)).toEqual(hook.body)
  })

  it('takes a JPEG given as text of one character per byte back exactly', async () => {
    const hook = await signedThumbnail({ body: jpeg('latin1', 20_000) })
    const event = { ...restApiEvent(PATH, hook, []), body: Buffer.from(hook.body).toString('latin1') }
    const result = await lambda.invoke(event)
    expect(result.statusCode, result.body).toBe(200)
    expect(lambda.stored(json(result).id)).toEqual(hook.body)
  })

  it('verifies a bad signature on such a JPEG as a bad signature', async () => {
    const hook = await signedThumbnail({ body: jpeg('latin1-forged', 20_000), secret: OTHER_SECRET })
    const event = { ...restApiEvent(PATH, hook, []), body: Buffer.from(hook.body).toString('latin1') }
    expect((await lambda.invoke(event)).statusCode).toBe(401)
  })
})

describe('a destination that is down', () => {
  let lambda: Instance
  beforeAll(async () => {
    lambda = await instance()
  })
  afterAll(async () => {
    await lambda?.close()
  })

  /** Scheduled runs one after another until one makes something; every run before it must have made nothing. */
  async function scheduledUntilMade() {
    return eventually(
      async () => {
        const report = await lambda.scheduled()
        if (report.delivered + report.retried + report.dead > 0) return report
        expect(report).toMatchObject({ delivered: 0, retried: 0, dead: 0, released: 0 })
        return undefined
      },
      15_000,
      50,
    )
  }

  it('leaves the event queued after the 200, and scheduled delivers it by the schedule once it is back', async () => {
    let up = false
    lambda.receiver.answer = () => (up ? {} : { status: 503 })
    const hook = await signedJson(PAYLOADS.transcoderActive)
    const result = await lambda.invoke(functionUrlEvent(PATH, hook))
    expect(result.statusCode, result.body).toBe(200)
    const { id } = json(result)
    expect(lambda.stored(id)).toEqual(hook.body) // the sink that is up got it before the answer
    expect(lambda.receiver.requests).toHaveLength(1) // tried once, before the answer

    // Runs from now on make nothing until the retry is due (the schedule waits 300 ms), then a failed attempt.
    expect(await scheduledUntilMade()).toMatchObject({ delivered: 0, retried: 1 })
    expect(lambda.receiver.requests).toHaveLength(2)
    const [first, second] = lambda.receiver.requests
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(300)

    up = true
    expect(await scheduledUntilMade()).toMatchObject({ delivered: 1, retried: 0, dead: 0 })
    expect(lambda.receiver.requests).toHaveLength(3)
    expect(lambda.receiver.requests[2]!.at - second!.at).toBeGreaterThanOrEqual(300)
    const sent = JSON.parse(lambda.receiver.requests[2]!.body.toString()) as { id: string }
    expect(sent.id).toBe(id)
    // Nothing is left.
    expect((await lambda.scheduled()).delivered).toBe(0)
    expect(lambda.receiver.requests).toHaveLength(3)
  })
})

/** A receiver answer that holds each request until `release` (a destination that hangs as long as the test says). */
function hanging() {
  let release!: () => void
  const released = new Promise<void>((resolve) => {
    release = resolve
  })
  return {
    answer: async () => {
      await released
      return {}
    },
    release,
  }
}

describe('a destination slower than the deadline', () => {
  let lambda: Instance
  beforeAll(async () => {
    lambda = await instance({ HOOKCAST_DELIVER_WITHIN: '2s' })
    await lambda.warm()
  })
  afterAll(async () => {
    await lambda?.close()
  })

  it('answers by the deadline, gives the delivery back (no attempt counted), and scheduled makes it', async () => {
    const destination = hanging()
    lambda.receiver.answer = destination.answer
    const hook = await signedJson({ ...PAYLOADS.transcoderActive, event: 'STOPPED' })
    const started = Date.now()
    // The destination has not answered when the function does: it answered by its deadline, not the destination's.
    const answer = lambda.invoke(functionUrlEvent(PATH, hook))
    const result = await guard(answer, 20_000, 'the answer while the destination hangs')
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900)
    expect(result.statusCode, result.body).toBe(200)
    expect(lambda.stored(json(result).id)).toEqual(hook.body)
    expect(lambda.receiver.requests).toHaveLength(1)
    // The disk sink's delivery made, the hook's given back.
    expect(lambda.beforeAnswer()).toEqual([expect.objectContaining({ delivered: 1, retried: 0, released: 1 })])

    destination.release()
    // Given back as it was: due at once, and its first attempt is still its first.
    const report = await lambda.scheduled()
    expect(report).toMatchObject({ delivered: 1, retried: 0 })
    expect(lambda.receiver.requests).toHaveLength(2)
  })

  it("keeps the deadline within the function's own remaining time", async () => {
    // HOOKCAST_DELIVER_WITHIN far beyond the guard: only the remaining time can make the function answer in time.
    const long = await instance({ HOOKCAST_DELIVER_WITHIN: '120s' })
    const destination = hanging()
    long.receiver.answer = destination.answer
    try {
      await long.warm()
      const hook = await signedJson({ ...PAYLOADS.transcoderActive, event: 'DELETED' })
      // 2 s left: the deliveries stop 1.5 s before the end, whatever HOOKCAST_DELIVER_WITHIN says.
      const answer = long.invoke(functionUrlEvent(PATH, hook), 2_000)
      const result = await guard(answer, 20_000, 'the answer within the remaining time')
      expect(result.statusCode, result.body).toBe(200)
      // Stopped at that deadline (given back, or not begun), not by the attempt's own 5 s timeout: no failed attempt.
      expect(long.logs.filter((line) => line.msg === 'delivery failed; will retry')).toEqual([])
      destination.release()
      expect(await long.scheduled()).toMatchObject({ retried: 0, dead: 0 })
      expect(await long.scheduled()).toMatchObject({ delivered: 0, retried: 0 }) // the first run made all there was
      expect(long.receiver.requests.at(-1)!.body.toString()).toContain('DELETED')
    } finally {
      destination.release()
      await long.close()
    }
  })
})

describe('stream lifecycle', () => {
  let lambda: Instance
  // A catch-all route does not take hookcast's own stream events: this one names them.
  beforeAll(async () => {
    lambda = await instance(
      {},
      // live at once, without waiting for a first thumbnail (a later scheduled run would hand it on)
      'streams: { flapWindow: 300ms, thumbnailWait: 0s }',
      `${ROUTES}
  - when: { type: stream }
    to: [disk]`,
    )
  })
  afterAll(async () => {
    await lambda?.close()
  })
  const lifecycle = (kind: string) =>
    listFiles(join(lambda.dir.path, 'data'))
      .filter((file) => file.startsWith('stream/'))
      .map((file) => JSON.parse(readFileSync(join(lambda.dir.path, 'data', file), 'utf8')) as { event: string })
      .filter((event) => event.event === kind)

  it('delivers the live event a feed hook leads to before answering that hook, and the ended one from scheduled', async () => {
    const started = await signedJson({
      ...PAYLOADS.feedsStarted,
      timestamp: Date.now(),
      data: { ...PAYLOADS.feedsStarted.data, started: Date.now() },
    })
    expect((await lambda.invoke(functionUrlEvent(PATH, started))).statusCode).toBe(200)
    expect(lifecycle('live')).toHaveLength(1)

    const ended = await signedJson({
      ...PAYLOADS.feedsEnded,
      timestamp: Date.now(),
      data: { ...PAYLOADS.feedsEnded.data, ended: Date.now() },
    })
    expect((await lambda.invoke(functionUrlEvent(PATH, ended))).statusCode).toBe(200)
    expect(lifecycle('ended')).toHaveLength(0) // the flap window is open
    await new Promise((resolve) => setTimeout(resolve, 400))
    // The window's end is delayed work in the queue: the tracker's check, then the ended event it leads to.
    const report = await lambda.scheduled()
    expect(report.delivered).toBeGreaterThanOrEqual(2)
    expect(lifecycle('ended')).toHaveLength(1)
    expect(lifecycle('live')).toHaveLength(1)
  })
})

describe('two scheduled runs at once', () => {
  let lambda: Instance
  beforeAll(async () => {
    lambda = await instance()
  })
  afterAll(async () => {
    await lambda?.close()
  })

  it('make each delivery once', async () => {
    let up = false
    lambda.receiver.answer = () => (up ? { delayMs: 100 } : { status: 503 })
    for (const event of ['ACTIVE', 'STOPPED', 'DELETED']) {
      const hook = await signedJson({ ...PAYLOADS.transcoderActive, event })
      expect((await lambda.invoke(functionUrlEvent(PATH, hook))).statusCode).toBe(200)
    }
    up = true
    await new Promise((resolve) => setTimeout(resolve, 350))
    const reports = await Promise.all([lambda.scheduled(), lambda.scheduled()])
    expect(reports[0]!.delivered + reports[1]!.delivered).toBe(3)
    expect(lambda.receiver.requests).toHaveLength(6) // 3 failed before the answers, 3 delivered
  })
})

/**
 * Issue 20 items 5 and 6 on the Lambda front: the path the event gives is checked for dot segments before routing
 * (Hono's adapter makes a URL of it, which resolves them), and header values that AWS decoded as UTF-8 reach the
 * app as the bytes a server hands it, so the same request is the same event on every front.
 */
describe('issue 20: paths as sent, and header bytes as a server reads them', () => {
  const TOKEN = 'lambda-admin-token-0123456789abcdef'
  const AT: Record<string, (path: string, hook: SignedHook) => unknown> = {
    'Function URL': functionUrlEvent,
    'HTTP API (payload 2.0)': httpApiEvent,
    'REST API': (path, hook) => restApiEvent(path, hook, ['*/*']),
    ALB: albEvent,
  }
  let lambda: Instance
  beforeAll(async () => {
    lambda = await instance({}, `admin: { token: "${TOKEN}" }`)
  })
  afterAll(async () => {
    await lambda?.close()
  })

  /** A GET through a Function URL, with the admin token. */
  const get = (path: string) => {
    const withToken = functionUrlEvent(path, { body: new Uint8Array(0), headers: { authorization: `Bearer ${TOKEN}` } })
    const event = { ...withToken, body: undefined, isBase64Encoded: false }
    event.requestContext = { ...event.requestContext, http: { ...event.requestContext.http, method: 'GET' } }
    return lambda.invoke(event)
  }

  it.each(Object.keys(AT))('item 5, %s: refuses a path with dot segments, plain or encoded (400)', async (shape) => {
    const { viewerAttempt } = PAYLOADS
    const hook = await signedJson({ ...viewerAttempt, timestamp: viewerAttempt.timestamp + shape.length })
    const paths = ['/hooks/x/../millicast', '/hooks/x/%2e%2e/millicast', '/hooks/millicast/%2E%2e/%2e%2e/metrics']
    for (const path of paths) {
      const result = await lambda.invoke(AT[shape]!(path, hook))
      expect(`${path}: ${result.statusCode}`).toBe(`${path}: 400`)
      expect(json(result).error).toBe('bad_path')
    }
    expect((await lambda.invoke(AT[shape]!(PATH, hook))).statusCode).toBe(200) // the same hook, on its own path
  })

  it('item 5: a bearer token does not reach the admin API through a hook path', async () => {
    expect((await get('/api/streams')).statusCode).toBe(200)
    for (const path of ['/hooks/millicast/%2e%2e/%2e%2e/api/streams', '/hooks/millicast/../../api/streams']) {
      expect((await get(path)).statusCode).toBe(400)
    }
  })

  it.each(Object.keys(AT))('item 6, %s: a UTF-8 stream id as servers take it; U+FFFD as not UTF-8', async (shape) => {
    const streamId = `N${shape.length}/日本`
    const hook = await signedThumbnail({ body: jpeg(`utf-8 ${shape}`, 2000), streamId })
    // A server's Headers hold the header's bytes one character per byte; AWS gives the Lambda their UTF-8 text.
    const dir = tempDir('hookcast-lambda-server-')
    const config = parseConfig(configYaml(dir.path, lambda.receiver.url), { MILLICAST_WEBHOOK_SECRET: SECRET })
    const server = await createGateway(config, { log: silentLogger })
    const asBytes = { ...hook.headers, 'x-millicast-stream-id': Buffer.from(streamId, 'utf8').toString('latin1') }
    const onServer = await server.fetch(
      new Request(`http://hookcast.test${PATH}`, {
        method: 'POST',
        headers: asBytes,
        body: hook.body as Uint8Array<ArrayBuffer>,
      }),
    )
    await server.close()
    dir.remove()
    expect(onServer.status).toBe(200)

    const result = await lambda.invoke(AT[shape]!(PATH, hook))
    expect(result.statusCode, result.body).toBe(200)
    expect(json(result).id).toBe(((await onServer.json()) as { id: string }).id)
    type Listed = { streams: Array<{ streamId: string; latestThumbnail: { eventId: string } | null }> }
    const { streams } = JSON.parse((await get('/api/streams')).body) as Listed
    expect(streams.find((stream) => stream.streamId === streamId)?.latestThumbnail?.eventId).toBe(json(result).id)

    const replaced = await lambda.invoke(AT[shape]!(PATH, await signedThumbnail({ streamId: 'N/\uFFFD' })))
    expect(replaced.statusCode).toBe(400)
    expect(json(replaced).error).toBe('bad_header_encoding')
  })
})

describe('configuration', () => {
  it('answers 500 and says why in the log when the config cannot be loaded', async () => {
    const lambda = createLambda({}, { log: silentLogger })
    const errors: string[] = []
    const original = console.error
    console.error = (line: string) => {
      errors.push(line)
    }
    try {
      const hook = await signedJson(PAYLOADS.feedsStarted)
      const result = (await lambda.handler(functionUrlEvent(PATH, hook) as never, lambdaContext(10_000))) as Result
      expect(result.statusCode).toBe(500)
      expect(JSON.parse(result.body)).toMatchObject({ error: 'not_configured' })
      await expect(lambda.scheduled(scheduleEvent(), lambdaContext(10_000))).rejects.toThrow(/HOOKCAST_CONFIG_YAML/)
    } finally {
      console.error = original
    }
    // The default of a function needs the secret and the bucket, which template.yaml sets.
    const log = errors.join('\n')
    expect(log).toContain('HOOKCAST_CONFIG_YAML or HOOKCAST_CONFIG')
    expect(log).toContain('MILLICAST_WEBHOOK_SECRET is not set')
    expect(log).toContain('HOOKCAST_BUCKET is not set')
  })

  it('refuses a malformed deadline at the cold start, as a config problem', async () => {
    const lambda = createLambda(
      {
        HOOKCAST_CONFIG_YAML: configYaml('/tmp/unused', 'http://127.0.0.1:9'),
        MILLICAST_WEBHOOK_SECRET: SECRET,
        HOOKCAST_DELIVER_WITHIN: 'soon',
      },
      { log: silentLogger },
    )
    const errors: string[] = []
    const original = console.error
    console.error = (line: string) => {
      errors.push(line)
    }
    try {
      const result = (await lambda.handler(
        functionUrlEvent(PATH, await signedJson(PAYLOADS.feedsStarted)) as never,
        lambdaContext(10_000),
      )) as Result
      expect(result.statusCode).toBe(500)
    } finally {
      console.error = original
    }
    expect(errors.join('\n')).toContain('$HOOKCAST_DELIVER_WITHIN')
  })

  it('reads a config file named by HOOKCAST_CONFIG', async () => {
    const dir = tempDir('hookcast-lambda-file-')
    const receiver = await startReceiver()
    const file = join(dir.path, 'hookcast.yaml')
    const { writeFileSync } = await import('node:fs')
    writeFileSync(file, configYaml(dir.path, receiver.url))
    const lambda = createLambda({ HOOKCAST_CONFIG: file, MILLICAST_WEBHOOK_SECRET: SECRET }, { log: silentLogger })
    try {
      const hook = await signedThumbnail()
      const result = (await lambda.handler(functionUrlEvent(PATH, hook) as never, lambdaContext(10_000))) as Result
      expect(result.statusCode, result.body).toBe(200)
    } finally {
      await lambda.close()
      await receiver.close()
      dir.remove()
    }
  })
})
