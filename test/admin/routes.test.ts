/**
 * The operator API, its auth, /metrics and /readyz, in process.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { createGateway, type Gateway, type GatewayOptions } from '../../src/gateway.ts'
import { parseConfig } from '../../src/config/load.ts'
import { jpeg, PAYLOADS, post, SECRET, signedJson, signedThumbnail } from '../support/hooks.ts'
import { tempDir } from '../support/files.ts'
import { startReceiver, type Receiver } from '../support/receiver.ts'
import { eventually } from '../support/wait.ts'

const TOKEN = 'operator-token-for-tests'
const BASE = 'http://hookcast.test'
let dir: ReturnType<typeof tempDir>
let gateway: Gateway
let receiver: Receiver

async function start(extra = '', options: GatewayOptions = {}) {
  gateway = await createGateway(
    parseConfig(
      `
sources:
  millicast: { path: /hooks/millicast, secrets: ["${SECRET}"] }
sinks:
  disk: { type: fs, dir: "${join(dir.path, 'data')}" }
notifiers:
  hook: { type: http, url: "${receiver.url}/in" }
spool: { dir: "${join(dir.path, 'spool')}" }
delivery: { retry: { schedule: [100ms], jitter: 0 } }
routes:
  - when: { type: thumbnail }
    to: [disk]
  - when: { type: feeds }
    to: [disk, hook]
${extra}`,
      {},
    ),
    options,
  )
}

const get = (path: string, headers: Record<string, string> = {}) =>
  gateway.fetch(new Request(`${BASE}${path}`, { headers }))
const auth = { authorization: `Bearer ${TOKEN}` }
const hook = (h: Awaited<ReturnType<typeof signedJson>>) => post(`${BASE}/hooks/millicast`, h, gateway.fetch)

beforeEach(async () => {
  dir = tempDir('hookcast-admin-')
  receiver = await startReceiver()
})
afterEach(async () => {
  await gateway.close(100)
  await receiver.close()
  dir.remove()
})

describe('admin API', () => {
  it('is off without a token', async () => {
    await start()
    expect((await get('/api/streams', auth)).status).toBe(404)
    expect((await get('/')).status).toBe(404)
  })

  it('needs the token, as a bearer header or the login cookie', async () => {
    await start(`admin: { token: ${TOKEN} }`)
    expect((await get('/api/streams')).status).toBe(401)
    expect((await get('/api/streams', { authorization: 'Bearer nope' })).status).toBe(401)
    expect((await get('/api/streams', auth)).status).toBe(200)
    expect(await (await get('/')).text()).toContain('name="token"')

    const wrong = await gateway.fetch(
      new Request(`${BASE}/login`, { method: 'POST', body: new URLSearchParams({ token: 'nope' }) }),
    )
    expect(wrong.status).toBe(401)
    const login = await gateway.fetch(
      new Request(`${BASE}/login`, { method: 'POST', body: new URLSearchParams({ token: TOKEN }) }),
    )
    expect(login.status).toBe(303)
    const cookie = login.headers.get('set-cookie')!
    expect(cookie).toMatch(/HttpOnly/)
    expect(cookie).toMatch(/SameSite=Strict/)
    expect(cookie).not.toContain(TOKEN)
    const session = { cookie: cookie.split(';')[0]! }
    expect((await get('/api/streams', session)).status).toBe(200)
    expect(await (await get('/', session)).text()).not.toContain('name="token"')
    // Webhooks never need the token.
    expect((await hook(await signedJson(PAYLOADS.feedsStarted))).status).toBe(200)
  })

  it('shows streams with their latest thumbnail (ETag, 304), and events with their delivery states', async () => {
    await start(`admin: { token: ${TOKEN} }`)
    const started = await signedJson(PAYLOADS.feedsStarted)
    expect((await hook(started)).status).toBe(200)
    const thumb = await signedThumbnail({ body: jpeg('admin', 8_000), timestamp: Date.now() })
    const answer = (await (await hook(thumb)).json()) as { id: string }

    const stream = await eventually(async () => {
      const { streams } = (await (await get('/api/streams', auth)).json()) as { streams: Array<Record<string, any>> }
      return streams[0]?.latestThumbnail ? streams[0] : undefined
    })
    expect(stream).toMatchObject({
      streamId: 'ZG6NWV/sample_stream',
      streamName: 'sample_stream',
      status: 'live',
      feeds: 1,
      latestThumbnail: { eventId: answer.id },
    })
    const image = await get(stream.latestThumbnail.url, auth)
    expect(image.headers.get('etag')).toBe(`"${answer.id}"`)
    expect(Buffer.from(await image.arrayBuffer()).equals(Buffer.from(thumb.body))).toBe(true)
    expect((await get(stream.latestThumbnail.url, { ...auth, 'if-none-match': `"${answer.id}"` })).status).toBe(304)
    expect((await get('/api/streams/ZG6NWV/sample_stream/thumbnail', auth)).status).toBe(200)

    const { events } = (await (await get('/api/events', auth)).json()) as { events: Array<Record<string, any>> }
    expect(events.map((e) => e.type)).toEqual(['thumbnail', 'feeds'])
    await eventually(async () => {
      const latest = (await (await get('/api/events', auth)).json()) as {
        events: Array<{ deliveries: Array<{ state: string }> }>
      }
      return latest.events[1]!.deliveries.every((d) => d.state === 'delivered')
    })
  })

  it('lists dead letters and replays them', async () => {
    await start(`admin: { token: ${TOKEN} }`)
    receiver.answer = () => ({ status: 400 })
    const { id } = (await (await hook(await signedJson(PAYLOADS.feedsEnded))).json()) as { id: string }
    const letters = await eventually(async () => {
      const body = (await (await get('/api/dead-letters', auth)).json()) as { deadLetters: Array<Record<string, any>> }
      return body.deadLetters.length > 0 ? body.deadLetters : undefined
    })
    expect(letters).toEqual([
      expect.objectContaining({
        eventId: id,
        destination: 'hook',
        attempts: [expect.objectContaining({ error: expect.stringContaining('answered 400') })],
      }),
    ])
    const events = (await (await get('/api/events', auth)).json()) as {
      events: Array<{ deliveries: Array<Record<string, unknown>> }>
    }
    expect(events.events[0]!.deliveries).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ destination: 'hook', state: 'dead', lastError: expect.stringContaining('400') }),
      ]),
    )

    receiver.answer = () => ({})
    const replay = (body: unknown, type = 'application/json') =>
      gateway.fetch(
        new Request(`${BASE}/api/dead-letters/replay`, {
          method: 'POST',
          headers: { ...auth, 'content-type': type },
          body: JSON.stringify(body),
        }),
      )
    expect((await replay({})).status).toBe(400)
    expect((await replay({ all: true }, 'text/plain')).status).toBe(415)
    // The replayed delivery is made before the queue's replay has answered the route (a loaded machine's order):
    // the page must still show it delivered, not pending.
    const queueReplay = gateway.queue.replay.bind(gateway.queue)
    const deliveredState = async () => {
      const body = (await (await get('/api/events', auth)).json()) as typeof events
      return body.events[0]!.deliveries.find((d) => d.destination === 'hook')?.state
    }
    gateway.queue.replay = async (filter) => {
      const replayed = await queueReplay(filter)
      await eventually(async () => (await deliveredState()) === 'delivered')
      return replayed
    }
    expect(await (await replay({ eventId: id, destination: 'hook' })).json()).toEqual({ replayed: 1 })
    await eventually(() => receiver.requests.filter((r) => r.path === '/in').length === 2)
    expect(await (await get('/api/dead-letters', auth)).json()).toEqual({ deadLetters: [] })
    expect(await deliveredState()).toBe('delivered')
  })
})

const HOUR = 3_600_000
const ADMIN = `admin: { token: ${TOKEN} }`
const loginRequest = (token = TOKEN, headers: Record<string, string> = {}) =>
  new Request(`${BASE}/login`, { method: 'POST', headers, body: new URLSearchParams({ token }) })
const login = (token = TOKEN, headers: Record<string, string> = {}) => gateway.fetch(loginRequest(token, headers))
const logout = (headers: Record<string, string>) =>
  gateway.fetch(new Request(`${BASE}/logout`, { method: 'POST', headers }))
/** The request as if it came from `address` (what the runtime adapters record). */
const from = (address: string, request: Request) => gateway.fetch(request, { clientAddress: address })
const sessionOf = async (response: Response | Promise<Response>) => {
  const answer = await response
  expect(answer.status).toBe(303)
  return { cookie: answer.headers.get('set-cookie')!.split(';')[0]! }
}

describe('admin sessions', () => {
  it('gives each sign-in its own random session, and signing out revokes it', async () => {
    await start(ADMIN)
    const first = await sessionOf(login())
    const second = await sessionOf(login())
    expect(first.cookie).not.toBe(second.cookie)
    expect(first.cookie).toMatch(/^hookcast_admin=[A-Za-z0-9_-]{43}$/) // 32 random bytes
    expect((await get('/api/streams', first)).status).toBe(200)
    const out = await logout(first)
    expect(out.status).toBe(303)
    expect(out.headers.get('set-cookie')).toMatch(/^hookcast_admin=;.*Max-Age=0/)
    // The old cookie, replayed after signing out, no longer opens anything; the other session is untouched.
    expect((await get('/api/streams', first)).status).toBe(401)
    expect(await (await get('/', first)).text()).toContain('name="token"')
    expect((await get('/api/streams', second)).status).toBe(200)
  })

  it('ends a session unused for 12 h, and any session 7 days after sign-in', async () => {
    let clock = Date.now()
    await start(ADMIN, { now: () => clock })
    const idle = await sessionOf(login())
    const busy = await sessionOf(login())
    clock += 11 * HOUR
    expect((await get('/api/streams', busy)).status).toBe(200)
    clock += 2 * HOUR
    expect((await get('/api/streams', idle)).status).toBe(401)
    expect((await get('/api/streams', busy)).status).toBe(200)
    while (clock + 11 * HOUR < Date.now() + 7 * 24 * HOUR) {
      clock += 11 * HOUR
      expect((await get('/api/streams', busy)).status).toBe(200)
    }
    clock += 11 * HOUR
    expect((await get('/api/streams', busy)).status).toBe(401)
  })

  it('sets the cookie HttpOnly, SameSite=Strict, Path=/, and Secure when the request came over https', async () => {
    await start(ADMIN)
    const plain = (await login()).headers.get('set-cookie')!
    for (const attribute of [/HttpOnly/, /SameSite=Strict/, /Path=\//]) expect(plain).toMatch(attribute)
    expect(plain).not.toMatch(/Secure/)
    expect((await login(TOKEN, { 'x-forwarded-proto': 'https' })).headers.get('set-cookie')).toMatch(/; Secure/)
  })

  it('limits failed sign-ins and bearer tokens per client address: 429 with Retry-After, even for the right token', async () => {
    let clock = Date.now()
    await start(`${ADMIN}\nmetrics: { token: scrape-token-for-tests }`, { now: () => clock })
    for (let i = 0; i < 10; i++) expect((await from('203.0.113.9', loginRequest('wrong'))).status).toBe(401)
    const blocked = await from('203.0.113.9', loginRequest())
    expect(blocked.status).toBe(429)
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0)
    expect((await from('203.0.113.9', new Request(`${BASE}/api/streams`, { headers: auth }))).status).toBe(429)
    expect((await from('198.51.100.7', loginRequest())).status).toBe(303) // another client is not affected

    for (let i = 0; i < 10; i++)
      expect(
        (await from('198.51.100.8', new Request(`${BASE}/api/streams`, { headers: { authorization: 'Bearer nope' } })))
          .status,
      ).toBe(401)
    expect((await from('198.51.100.8', new Request(`${BASE}/api/streams`, { headers: auth }))).status).toBe(429)
    for (let i = 0; i < 10; i++)
      expect(
        (await from('198.51.100.9', new Request(`${BASE}/metrics`, { headers: { authorization: 'Bearer nope' } })))
          .status,
      ).toBe(401)
    expect(
      (
        await from(
          '198.51.100.9',
          new Request(`${BASE}/metrics`, { headers: { authorization: 'Bearer scrape-token-for-tests' } }),
        )
      ).status,
    ).toBe(429)
    // One IPv6 host usually has a whole /64: its addresses share one count.
    for (let i = 1; i <= 10; i++) expect((await from(`2001:db8:1:2::${i}`, loginRequest('wrong'))).status).toBe(401)
    expect((await from('2001:db8:1:2:ffff::1', loginRequest())).status).toBe(429)

    clock += 61_000
    expect((await from('203.0.113.9', loginRequest())).status).toBe(303)
  })

  it('holds against 300 concurrent wrong tokens from one address: 10 answered 401, the rest 429', async () => {
    await start(ADMIN)
    const statuses = async (request: () => Request, address: string) => {
      const answers = await Promise.all(Array.from({ length: 300 }, () => from(address, request())))
      const count = (status: number) => answers.filter((answer) => answer.status === status).length
      return { 401: count(401), 429: count(429) }
    }
    expect(await statuses(() => loginRequest('wrong-token-guess'), '203.0.113.20')).toEqual({ 401: 10, 429: 290 })
    const bearer = () => new Request(`${BASE}/api/streams`, { headers: { authorization: 'Bearer wrong-token-guess' } })
    expect(await statuses(bearer, '203.0.113.21')).toEqual({ 401: 10, 429: 290 })
  })

  it("gives a right token's count back: right ones never use up the limit", async () => {
    await start(ADMIN)
    const right = () => from('203.0.113.22', new Request(`${BASE}/api/streams`, { headers: auth }))
    for (let i = 0; i < 20; i++) expect((await right()).status).toBe(200)
    for (let i = 0; i < 9; i++) expect((await from('203.0.113.22', loginRequest('wrong'))).status).toBe(401)
    await sessionOf(from('203.0.113.22', loginRequest()))
    expect((await from('203.0.113.22', loginRequest('wrong'))).status).toBe(401)
    expect((await from('203.0.113.22', loginRequest())).status).toBe(429)
  })

  it('sends anti-framing, no-sniff and no-referrer headers with the page and every API answer', async () => {
    await start(ADMIN)
    const session = await sessionOf(login())
    const answers = [
      await get('/'),
      await get('/', session),
      await get('/api/streams'),
      await get('/api/streams', auth),
      await get('/api/nope', auth),
      await login('wrong'),
    ]
    for (const answer of answers) {
      expect(answer.headers.get('x-frame-options')).toBe('DENY')
      expect(answer.headers.get('content-security-policy')).toContain("frame-ancestors 'none'")
      expect(answer.headers.get('x-content-type-options')).toBe('nosniff')
      expect(answer.headers.get('referrer-policy')).toBe('no-referrer')
    }
    expect(answers[1]!.headers.get('content-security-policy')).toMatch(/script-src 'sha256-/)
    expect(answers[3]!.headers.get('cache-control')).toBe('no-store')
  })

  it('refuses cross-site POSTs to sign in, sign out and replay (403), and takes same-origin ones', async () => {
    await start(ADMIN)
    const crossSite: Array<Record<string, string>> = [
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
      { origin: 'https://evil.example' },
      { origin: 'null' },
    ]
    for (const headers of crossSite) {
      expect((await login(TOKEN, headers)).status).toBe(403)
    }
    const session = await sessionOf(login(TOKEN, { origin: BASE, 'sec-fetch-site': 'same-origin' }))
    expect((await logout({ ...session, 'sec-fetch-site': 'cross-site' })).status).toBe(403)
    expect((await get('/api/streams', session)).status).toBe(200) // still signed in
    const replay = (headers: Record<string, string>) =>
      gateway.fetch(
        new Request(`${BASE}/api/dead-letters/replay`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ all: true }),
        }),
      )
    expect((await replay({ ...session, origin: 'https://evil.example' })).status).toBe(403)
    expect((await replay({ ...auth, 'sec-fetch-site': 'cross-site' })).status).toBe(403)
    expect((await replay({ ...session, origin: BASE })).status).toBe(200)
    expect((await replay(auth)).status).toBe(200) // scripts send no Origin
  })

  it('never takes the admin token from a link (browsers keep links in their history): typed only', async () => {
    await start(ADMIN)
    const viaLink = (token: string) =>
      from(
        '203.0.113.30',
        new Request(`${BASE}/login`, {
          method: 'POST',
          headers: { 'sec-fetch-site': 'same-origin' },
          body: new URLSearchParams({ token, via: 'link' }),
        }),
      )
    for (let i = 0; i < 12; i++) {
      const refused = await viaLink(i % 2 ? TOKEN : 'wrong-token-guess')
      expect(refused.status).toBe(400)
      expect(refused.headers.get('set-cookie')).toBeNull()
      expect(await refused.text()).toContain('does not sign in from a link')
    }
    // Refused without a look at the token, so nothing was counted: the typed token still signs in.
    const body = new URLSearchParams({ token: TOKEN, via: 'form' })
    const typed = from('203.0.113.30', new Request(`${BASE}/login`, { method: 'POST', body }))
    await sessionOf(typed)
    expect(await (await get('/login')).text()).toContain('never taken from a link')
  })

  it('refuses a sign-in body larger than a token needs', async () => {
    await start(ADMIN)
    expect((await login('x'.repeat(100_000))).status).toBe(413)
  })
})

describe('metrics and readiness', () => {
  it('counts a known sequence of requests and deliveries', async () => {
    // No delayed checks for the live session (its silence, its first thumbnail, quiet): nothing stays pending.
    await start('streams: { endAfterSilence: false, thumbnailWait: 0s, health: false }')
    receiver.answer = () => ({ status: 400 })
    await hook(await signedJson(PAYLOADS.feedsStarted)) // disk delivered; hook dead
    await hook(await signedThumbnail({ body: jpeg('m1') }))
    await hook(await signedThumbnail({ body: jpeg('m2') }))
    await hook(await signedJson(PAYLOADS.feedsEnded, btoa('wrong'))) // 401
    await hook({ body: new TextEncoder().encode('x'), headers: { 'content-type': 'text/plain' } }) // 415
    await eventually(async () => (await gateway.queue.stats()).pendingDeliveries === 0)

    const response = await get('/metrics')
    expect(response.headers.get('content-type')).toContain('text/plain')
    const metrics = parsePrometheus(await response.text())
    expect(metrics['hookcast_requests_total{source="millicast",kind="feeds",status="200"}']).toBe(1)
    expect(metrics['hookcast_requests_total{source="millicast",kind="thumbnail",status="200"}']).toBe(2)
    expect(metrics['hookcast_requests_total{source="millicast",kind="unknown",status="401"}']).toBe(1)
    expect(metrics['hookcast_requests_total{source="millicast",kind="unknown",status="415"}']).toBe(1)
    expect(metrics['hookcast_signature_failures_total{source="millicast"}']).toBe(1)
    expect(metrics['hookcast_deliveries_total{destination="disk",outcome="delivered"}']).toBe(3)
    expect(metrics['hookcast_deliveries_total{destination="hook",outcome="dead"}']).toBe(1)
    expect(metrics['hookcast_dead_letters']).toBe(1)
    expect(metrics['hookcast_spool_pending_deliveries']).toBe(0)
    expect(metrics['hookcast_spool_oldest_pending_age_seconds']).toBe(0)
    expect(metrics['hookcast_accept_duration_seconds_count{source="millicast"}']).toBe(3)
    expect(metrics['hookcast_accept_duration_seconds_bucket{source="millicast",le="+Inf"}']).toBe(3)
  })

  it('labels hook kinds it does not know as "other": a signed type cannot grow the label set', async () => {
    await start()
    for (const type of ['brandNewKind', 'x'.repeat(300), 'feeds\n# injected 1']) {
      expect((await hook(await signedJson({ type, event: 'happened', timestamp: 1, data: {} }))).status).toBe(200)
    }
    const text = await (await get('/metrics')).text()
    expect(parsePrometheus(text)['hookcast_requests_total{source="millicast",kind="other",status="200"}']).toBe(3)
    expect(text).not.toContain('brandNewKind')
    expect(text).not.toContain('xxxx')
    expect(text).not.toContain('injected')
  })

  it('can require a token for /metrics, and answers /readyz', async () => {
    await start('metrics: { token: scrape-token-for-tests }')
    expect((await get('/metrics')).status).toBe(401)
    expect((await get('/metrics', { authorization: 'Bearer scrape-token-for-tests' })).status).toBe(200)
    expect(await (await get('/readyz')).json()).toEqual({ ok: true, problems: [] })
  })
})

/** `name{labels} value` lines into a map; comments skipped. */
function parsePrometheus(text: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue
    const space = line.lastIndexOf(' ')
    out[line.slice(0, space)] = Number(line.slice(space + 1))
  }
  return out
}
