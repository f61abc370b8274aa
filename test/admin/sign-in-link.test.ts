/**
 * First run without `admin.token` (issue 15): one-time sign-in tokens and links (src/admin/sign-in-link.ts), and
 * the page and API behind them, in process; the Lambda entry keeps the page off. The spawned gateway printing the
 * link is test/e2e/first-run.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  createSignInLinks,
  isWildcard,
  linkOrigin,
  randomToken,
  signInBanner,
  signInLink,
  SIGN_IN_TOKEN_BYTES,
} from '../../src/admin/sign-in-link.ts'
import { createGateway, type Gateway } from '../../src/gateway.ts'
import { parseConfig } from '../../src/config/load.ts'
import { createLambda } from '../../adapters/lambda.ts'
import { checkCommand } from '../../src/cli/check.ts'
import { silentLogger } from '../../src/log.ts'
import { PAYLOADS, post, SECRET, signedJson } from '../support/hooks.ts'
import { tempDir } from '../support/files.ts'
import { functionUrlEvent, lambdaContext } from '../lambda/events.ts'

const BASE = 'http://127.0.0.1:8080'

describe('sign-in tokens', () => {
  it('are 256 random bits, base64url without padding, never the same twice', () => {
    const tokens = Array.from({ length: 200 }, () => randomToken())
    expect(SIGN_IN_TOKEN_BYTES * 8).toBeGreaterThanOrEqual(128)
    for (const token of tokens) expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(new Set(tokens).size).toBe(tokens.length)
    expect(randomToken(16)).toMatch(/^[A-Za-z0-9_-]{22}$/)
  })

  it('sign in once: the next token is made and announced, the used one is told apart from a wrong one', async () => {
    const renewed: string[] = []
    const links = createSignInLinks({ onRenew: (token) => renewed.push(token) })
    const first = links.token
    expect(await links.consume('not-it')).toBe('wrong')
    expect(await links.consume(first.slice(0, -1))).toBe('wrong')
    expect(await links.consume('')).toBe('wrong')
    expect(links.token).toBe(first)
    expect(renewed).toEqual([])

    expect(await links.consume(first)).toBe('ok')
    const second = links.token
    expect(second).not.toBe(first)
    expect(renewed).toEqual([second])
    expect(await links.consume(first)).toBe('used')
    expect(await links.consume(second)).toBe('ok')
    expect(await links.consume(second)).toBe('used')
    expect(await links.consume(first)).toBe('used')
    expect(renewed).toHaveLength(2)
  })

  it('let exactly one of concurrent sign-ins with one token through', async () => {
    const links = createSignInLinks()
    const token = links.token
    const verdicts = await Promise.all(Array.from({ length: 8 }, () => links.consume(token)))
    expect(verdicts.filter((v) => v === 'ok')).toHaveLength(1)
    expect(verdicts.filter((v) => v === 'used')).toHaveLength(7)
  })

  it('forget used tokens after a while (then they are simply wrong)', async () => {
    let n = 0
    const links = createSignInLinks({ random: () => `token-${n++}` })
    for (let i = 0; i < 20; i++) expect(await links.consume(`token-${i}`)).toBe('ok')
    expect(await links.consume('token-19')).toBe('used')
    expect(await links.consume('token-0')).toBe('wrong')
  })
})

describe('sign-in links', () => {
  it('point at the listen address, loopback for a wildcard one, brackets for IPv6', () => {
    expect(linkOrigin('127.0.0.1', 8080)).toBe('http://127.0.0.1:8080')
    expect(linkOrigin('0.0.0.0', 8080)).toBe('http://127.0.0.1:8080')
    expect(linkOrigin('::', 9000)).toBe('http://[::1]:9000')
    expect(linkOrigin('[::]', 9000)).toBe('http://[::1]:9000')
    expect(linkOrigin('::1', 80)).toBe('http://[::1]:80')
    expect(linkOrigin('fd00::5', 80)).toBe('http://[fd00::5]:80')
    expect(linkOrigin('192.168.1.20', 8080)).toBe('http://192.168.1.20:8080')
    expect(linkOrigin('gateway.local', 8080)).toBe('http://gateway.local:8080')
    expect([isWildcard('0.0.0.0'), isWildcard('::'), isWildcard('127.0.0.1'), isWildcard('::1')]).toEqual([
      true,
      true,
      false,
      false,
    ])
  })

  it('carry the token in the fragment, which no browser sends to a server', () => {
    const link = signInLink('http://127.0.0.1:8080', 'abc_DEF-123')
    expect(link).toBe('http://127.0.0.1:8080/login#token=abc_DEF-123')
    const url = new URL(link)
    expect(url.pathname + url.search).toBe('/login')
    expect(new URLSearchParams(url.hash.slice(1)).get('token')).toBe('abc_DEF-123')
  })

  it('are printed once in a banner that says what they are', () => {
    const link = signInLink('http://127.0.0.1:8080', 'T0KEN')
    const first = signInBanner(link)
    expect(first.split(link)).toHaveLength(2)
    expect(first).toContain('signs in once')
    expect(first).toContain('Keep it secret')
    expect(first).toContain('admin.token')
    expect(first).not.toContain('another machine')
    expect(signInBanner(link, { wildcard: true })).toContain('another machine')
    expect(signInBanner(link, { renewed: true })).toContain('was used')
  })
})

describe('the page and API with sign-in links (no admin.token)', () => {
  let dir: ReturnType<typeof tempDir>
  let gateway: Gateway
  let renewed: string[]
  let links: ReturnType<typeof createSignInLinks>

  async function start(admin = '') {
    renewed = []
    links = createSignInLinks({ onRenew: (token) => renewed.push(token) })
    gateway = await createGateway(
      parseConfig(
        `
sources:
  millicast: { path: /hooks/millicast, secrets: ["${SECRET}"] }
spool: { dir: "${join(dir.path, 'spool')}" }
routes: []
${admin}`,
        {},
      ),
      { signInLinks: links },
    )
  }
  const get = (path: string, headers: Record<string, string> = {}) =>
    gateway.fetch(new Request(`${BASE}${path}`, { headers }))
  /** The form's POST, as the login page's script sends it for a link (`via=link`), or as typed. */
  const signIn = (token: string, headers: Record<string, string> = {}, via = 'link') =>
    gateway.fetch(
      new Request(`${BASE}/login`, {
        method: 'POST',
        headers: { 'sec-fetch-site': 'same-origin', ...headers },
        body: new URLSearchParams({ token, via }),
      }),
    )
  const sessionOf = (response: Response) => ({ cookie: response.headers.get('set-cookie')!.split(';')[0]! })

  beforeEach(() => {
    dir = tempDir('hookcast-sign-in-')
  })
  afterEach(async () => {
    await gateway.close(100)
    dir.remove()
  })

  it('is closed until the link is used: 401 for the API, the form for the page', async () => {
    await start()
    expect((await get('/api/streams')).status).toBe(401)
    expect(await (await get('/api/streams')).json()).toMatchObject({ error: 'unauthorized' })
    const page = await get('/')
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('name="token"')
  })

  it('serves the form where links land, with the script that signs in with the fragment, and no caching', async () => {
    await start()
    const page = await get('/login')
    expect(page.status).toBe(200)
    expect(page.headers.get('cache-control')).toBe('no-store')
    expect(page.headers.get('referrer-policy')).toBe('no-referrer')
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'")
    const html = await page.text()
    expect(html).toContain('history.replaceState')
    expect(html).toContain('sign-in link')
    expect(html).not.toContain(links.token)
  })

  it('signs in once with a link token; the used link is refused, the next one works', async () => {
    await start()
    const first = links.token
    const signedIn = await signIn(first)
    expect(signedIn.status).toBe(303)
    expect(signedIn.headers.get('location')).toBe('/')
    const cookie = signedIn.headers.get('set-cookie')!
    expect(cookie).toMatch(/HttpOnly/)
    expect(cookie).toMatch(/SameSite=Strict/)
    expect(cookie).not.toContain(first)
    const session = sessionOf(signedIn)
    expect((await get('/api/streams', session)).status).toBe(200)
    expect(await (await get('/', session)).text()).not.toContain('name="token"')

    // The same link again: refused, with a message that says why; no cookie.
    const again = await signIn(first)
    expect(again.status).toBe(401)
    expect(again.headers.get('set-cookie')).toBeNull()
    expect(await again.text()).toContain('used already')

    // A new link was made, announced, and signs in (once).
    expect(renewed).toHaveLength(1)
    expect(renewed[0]).toBe(links.token)
    expect(renewed[0]).not.toBe(first)
    const next = await signIn(renewed[0]!, {}, 'form') // pasted into the form
    expect(next.status).toBe(303)
    expect((await get('/api/streams', sessionOf(next))).status).toBe(200)
    expect((await signIn('a-wrong-token')).status).toBe(401)

    // Webhooks never need any of it.
    expect((await post(`${BASE}/hooks/millicast`, await signedJson(PAYLOADS.feedsStarted), gateway.fetch)).status).toBe(
      200,
    )
  })

  it('never takes a link token as a bearer token', async () => {
    await start()
    const token = links.token
    expect((await get('/api/streams', { authorization: `Bearer ${token}` })).status).toBe(401)
    expect((await get('/api/status', { authorization: `Bearer ${token}` })).status).toBe(401)
    expect(links.token).toBe(token) // nor used it up
  })

  it('refuses a cross-site sign-in (login CSRF) without using the link up', async () => {
    await start()
    const token = links.token
    const forged = await signIn(token, { 'sec-fetch-site': 'cross-site' })
    expect(forged.status).toBe(403)
    expect(forged.headers.get('set-cookie')).toBeNull()
    const byOrigin = await gateway.fetch(
      new Request(`${BASE}/login`, {
        method: 'POST',
        headers: { origin: 'https://evil.example' },
        body: new URLSearchParams({ token }),
      }),
    )
    expect(byOrigin.status).toBe(403)
    expect(links.token).toBe(token)
    expect((await signIn(token)).status).toBe(303)
  })

  it('counts used and wrong link tokens against the sign-in limit', async () => {
    await start()
    const used = links.token
    expect((await signIn(used)).status).toBe(303)
    for (let i = 0; i < 10; i++) expect((await signIn(i % 2 ? used : `guess-${i}`)).status).toBe(401)
    const blocked = await signIn(links.token)
    expect(blocked.status).toBe(429)
    expect(blocked.headers.get('retry-after')).toMatch(/^\d+$/)
  })

  it('prefers admin.token when it is set: links are not taken, the token is (typed), as bearer too', async () => {
    await start('admin: { token: configured-admin-token }')
    expect((await signIn(links.token, {}, 'form')).status).toBe(401)
    expect((await signIn(links.token)).status).toBe(400)
    expect((await signIn('configured-admin-token')).status).toBe(400) // not from a link
    expect((await signIn('configured-admin-token', {}, 'form')).status).toBe(303)
    expect((await get('/api/streams', { authorization: 'Bearer configured-admin-token' })).status).toBe(200)
    expect(renewed).toEqual([])
  })

  it('is off with admin.enabled: false, links or token', async () => {
    await start('admin: { enabled: false, token: configured-admin-token }')
    expect((await get('/')).status).toBe(404)
    expect((await get('/login')).status).toBe(404)
    expect((await get('/api/streams', { authorization: 'Bearer configured-admin-token' })).status).toBe(404)
    expect((await signIn(links.token)).status).toBe(404)
  })
})

describe('a Lambda function without admin.token', () => {
  it('keeps the page and the API off (nobody would read a sign-in link in its output)', async () => {
    const dir = tempDir('hookcast-lambda-admin-')
    const lambda = createLambda(
      {
        HOOKCAST_CONFIG_YAML: `
sources:
  millicast: { path: /hooks/millicast, secrets: ["${SECRET}"] }
spool: { dir: "${join(dir.path, 'spool')}" }
routes: []
`,
      },
      { log: silentLogger },
    )
    try {
      const get = async (path: string) => {
        const event = {
          ...functionUrlEvent(path, await signedJson(PAYLOADS.feedsStarted)),
          body: undefined,
          isBase64Encoded: false,
        }
        event.requestContext = { ...event.requestContext, http: { ...event.requestContext.http, method: 'GET', path } }
        return (await lambda.handler(
          event as unknown as Parameters<typeof lambda.handler>[0],
          lambdaContext(30_000),
        )) as { statusCode: number }
      }
      expect((await get('/')).statusCode).toBe(404)
      expect((await get('/login')).statusCode).toBe(404)
      expect((await get('/api/streams')).statusCode).toBe(404)
      expect((await get('/healthz')).statusCode).toBe(200) // the function itself is up
    } finally {
      await lambda.close()
      dir.remove()
    }
  })
})

describe('hookcast check', () => {
  it('says how the page opens and why: token, sign-in links (loopback, or signInLinks: true), or off', async () => {
    const dir = tempDir('hookcast-check-admin-')
    const run = async (server: string, admin = '', env: Record<string, string> = {}) => {
      const path = join(dir.path, 'config.yaml')
      writeFileSync(
        path,
        `
server: { host: "${server}" }
sources:
  millicast: { path: /hooks/millicast, secrets: ["${btoa('a real secret of 32 bytes, not the dev one')}"] }
spool: { dir: "${join(dir.path, 'spool')}" }
routes: []
${admin}`,
      )
      const out: string[] = []
      const io = { out: (line: string) => out.push(line), err: (line: string) => out.push(line), progress() {} }
      const code = await checkCommand(['--config', path], env, io)
      expect(code, out.join('\n')).toBe(0)
      return out.join('\n')
    }
    try {
      const says = 'admin page and API:'
      const withLinks = `${says} on, with one-time sign-in links printed at start`
      const local = await run('127.0.0.1')
      expect(local).toContain(`${withLinks} (no admin.token; 127.0.0.1 is loopback)`)
      expect(local).not.toContain('warning: no admin.token')

      // The example's "${HOOKCAST_ADMIN_TOKEN:-}" with the variable unset, on a public address: off, and why.
      const unset = await run('0.0.0.0', 'admin: { token: "${HOOKCAST_ADMIN_TOKEN:-}" }')
      expect(unset).toContain(
        `${says} off (no admin.token, and 0.0.0.0 is not loopback: set admin.token, or admin.signInLinks`,
      )
      expect(unset).not.toContain('warning: no admin.token')

      const links = await run('0.0.0.0', 'admin: { signInLinks: true }')
      expect(links).toContain(`${withLinks} (no admin.token; admin.signInLinks: true)`)
      expect(links).toContain('warning: no admin.token: the page on 0.0.0.0 opens with sign-in links printed on stdout')

      const fromEnv = 'admin: { token: "${HOOKCAST_ADMIN_TOKEN:-}", signInLinks: true }'
      const token = await run('0.0.0.0', fromEnv, { HOOKCAST_ADMIN_TOKEN: 'configured-admin-token' })
      expect(token).toContain(`${says} on (admin.token)`)
      expect(token).not.toContain('warning: no admin.token')
      const never = await run('127.0.0.1', 'admin: { signInLinks: false }')
      expect(never).toContain(`${says} off (no admin.token, and admin.signInLinks: false)`)
      const off = await run('0.0.0.0', 'admin: { enabled: false }')
      expect(off).toContain('admin page and API: off (admin.enabled: false)')
      expect(off).not.toContain('warning: no admin.token')
    } finally {
      dir.remove()
    }
  })
})
