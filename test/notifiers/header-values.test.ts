/**
 * Issue 20, item 7: a secret with a line break (`FWD_TOKEN=$'sk-live-…\r\nx-a: b'`) must never reach a log, a dead
 * letter or /api/events. The config refuses control characters in tokens and header values, naming the key and not
 * the value; and should one get past it (a library user building the config), no delivery error quotes a header
 * value.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { ConfigError, parseConfig } from '../../src/config/load.ts'
import { createHttpNotifier } from '../../src/notifiers/http.ts'
import { httpNotifierConfig } from '../../src/config/http-notifier.ts'
import { createSlackWebApi } from '../../src/notifiers/slack-api.ts'
import { DeliveryError } from '../../src/destinations/types.ts'
import { createGateway, type Gateway } from '../../src/gateway.ts'
import { createLogger } from '../../src/log.ts'
import { PAYLOADS, post, SECRET, signedJson } from '../support/hooks.ts'
import { makeEvent } from '../support/events.ts'
import { startReceiver, type Receiver } from '../support/receiver.ts'
import { tempDir } from '../support/files.ts'
import { eventually } from '../support/wait.ts'

const LEAK = 'sk-live-4f9a1c0e7b2d'
const BAD = `${LEAK}\r\nx-a: b`
const ADMIN_TOKEN = 'header-values-admin-token'
let receiver: Receiver

beforeAll(async () => {
  receiver = await startReceiver()
})
afterAll(async () => {
  await receiver.close()
})

function problems(text: string, env: Record<string, string>): string[] {
  try {
    parseConfig(text, env)
  } catch (error) {
    if (error instanceof ConfigError) return error.problems
    throw error
  }
  throw new Error('config was accepted')
}

describe('config', () => {
  it('refuses control characters in tokens and header values, after ${VAR}, naming the key, never the value', () => {
    const text = `
sources: { m: { path: /h, secrets: ["${SECRET}"] } }
sinks:
  bucket:
    type: s3
    bucket: hookcast-test
    region: eu-west-1
    accessKeyId: "\${KEY_ID}"
    secretAccessKey: "\${FWD_TOKEN}"
notifiers:
  forward:
    type: http
    url: "https://example.com/in"
    headers: { authorization: "Bearer \${FWD_TOKEN}", x-team: "a\${NUL}b" }
  slack: { type: slack, token: "\${FWD_TOKEN}", channel: C1 }
spool: { type: nats, servers: ["nats://127.0.0.1:4222"], auth: { user: u, password: "\${FWD_TOKEN}" } }
admin: { token: "\${FWD_TOKEN}" }
metrics: { token: "tab\\there-0123456789" }
routes: [{ to: [bucket, forward, slack] }]
`
    const list = problems(text, { FWD_TOKEN: BAD, NUL: '\0', KEY_ID: 'AKIA\u007f0123456789' })
    const refused = 'contains a line break or another control character (not shown: it may be a secret)'
    expect(list.sort()).toEqual(
      [
        'admin.token',
        'metrics.token',
        'notifiers.forward.headers.authorization',
        'notifiers.forward.headers.x-team',
        'notifiers.slack.token',
        'sinks.bucket.accessKeyId',
        'sinks.bucket.secretAccessKey',
        'spool.auth.password',
      ].map((path) => `${path}: ${refused}`),
    )
    expect(list.join('\n')).not.toContain('sk-live')
  })

  it('refuses a header name that is not one, and takes ordinary values', () => {
    const config = (headers: string) => `
sources: { m: { path: /h, secrets: ["${SECRET}"] } }
notifiers: { forward: { type: http, url: "https://example.com/in", headers: ${headers} } }
routes: [{ to: [forward] }]
`
    expect(problems(config('{ "x team": v }'), {})).toEqual([
      expect.stringMatching(/^notifiers\.forward\.headers\.x team: not a header name/),
    ])
    const ordinary = config('{ authorization: "Bearer ${T}", x-note: "café; a=b, \\"c\\"" }')
    const parsed = parseConfig(ordinary, { T: 'sk-live-ok' })
    const headers = { authorization: 'Bearer sk-live-ok', 'x-note': 'café; a=b, "c"' }
    expect(parsed.notifiers.forward).toMatchObject({ headers })
  })
})

describe('delivery errors never quote a header value', () => {
  const failureOf = (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (error: unknown) => error,
    )

  it('http notifier: a permanent error naming the header', async () => {
    const config = httpNotifierConfig.parse({ type: 'http', url: `${receiver.url}/in` })
    const notifier = createHttpNotifier('forward', { ...config, headers: { authorization: `Bearer ${BAD}` } })
    const before = receiver.requests.length
    const failure = await failureOf(notifier.deliver(makeEvent({ contentType: 'application/json' })))
    expect(failure).toBeInstanceOf(DeliveryError)
    expect(failure).toMatchObject({ permanent: true })
    expect((failure as Error).message).toContain('"authorization" header')
    expect(String((failure as Error).stack)).not.toContain('sk-live')
    expect((failure as Error).cause).toBeUndefined()
    expect(receiver.requests.length).toBe(before) // nothing sent
  })

  it('Slack bot token: the same', async () => {
    const api = createSlackWebApi(`${receiver.url}/api`, BAD, 'slack')
    const failure = await failureOf(api.call('chat.postMessage', { channel: 'C1', text: 'x' }))
    expect(failure).toMatchObject({ permanent: true })
    expect((failure as Error).message).toContain('"authorization" header')
    expect(String((failure as Error).stack)).not.toContain('sk-live')
  })
})

describe('a bad header value past the config (in process)', () => {
  const dir = tempDir('hookcast-header-values-')
  let gateway: Gateway
  const lines: string[] = []
  afterEach(async () => {
    await gateway?.close(100)
    dir.remove()
  })

  it('is kept out of the log, the dead letter and /api/events', async () => {
    const config = parseConfig(
      `
sources: { millicast: { path: /hooks/millicast, secrets: ["${SECRET}"] } }
notifiers: { forward: { type: http, url: "${receiver.url}/in", headers: { authorization: "Bearer placeholder" } } }
spool: { dir: "${join(dir.path, 'spool')}" }
admin: { token: ${ADMIN_TOKEN} }
routes: [{ to: [forward] }]
`,
      {},
    )
    const forward = config.notifiers.forward!
    if (forward.type === 'http') forward.headers.authorization = `Bearer ${BAD}`
    gateway = await createGateway(config, { log: createLogger('debug', (line) => lines.push(line)) })
    const hook = await signedJson(PAYLOADS.feedsStarted)
    expect((await post('http://hookcast.test/hooks/millicast', hook, gateway.fetch)).status).toBe(200)

    const api = async (path: string) => {
      const headers = { authorization: `Bearer ${ADMIN_TOKEN}` }
      const response = await gateway.fetch(new Request(`http://hookcast.test${path}`, { headers }))
      return response.text()
    }
    const named = /^forward \(http:\/\/127\.0\.0\.1:\d+\): the "authorization" header's value cannot be sent/
    const dead = await eventually(async () => {
      const text = await api('/api/dead-letters')
      const { deadLetters } = JSON.parse(text) as { deadLetters: Array<{ attempts: Array<{ error: string }> }> }
      return deadLetters.length > 0 && text
    })
    expect(JSON.parse(dead).deadLetters[0].attempts[0].error).toMatch(named)
    const events = await api('/api/events')
    expect(JSON.parse(events).events[0].deliveries[0].lastError).toMatch(named)
    for (const text of [dead, events, lines.join('\n')]) expect(text).not.toContain('sk-live')
    expect(lines.some((line) => named.test(String(JSON.parse(line).error)))).toBe(true)
  })
})
