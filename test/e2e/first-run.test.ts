/**
 * First run (issue 15): `npm start` with no config of one's own and no admin.token prints a one-time sign-in link;
 * `hookcast send` (no secret given: the development secret, as the gateway) fills the live streams page.
 *
 * The real gateway is spawned in an empty directory (so with the example config, or the embedded default), its
 * link read from its output and used as a browser would (the form post its script makes, then in headless
 * Chromium); Deno and Bun print and honour the link the same way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import { onOutputLines, ROOT, RUNTIMES, serverCommand, startServer, type Runtime } from '../support/runtimes.ts'
import { tempDir } from '../support/files.ts'
import { eventually } from '../support/wait.ts'
import { skipWhen } from '../support/skip.ts'

const LINK = /^\s+(http:\/\/\S+)\/login#token=([A-Za-z0-9_-]+)$/
const CHROMIUM = '/usr/bin/chromium'
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]
const skipBrowser =
  !existsSync(CHROMIUM) && !process.env.CI && `${CHROMIUM} is missing (apt-get install chromium); it never skips in CI`

/** The environment of a newcomer: nothing of hookcast's set. */
function newcomerEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...extra }
  for (const name of [
    'MILLICAST_WEBHOOK_SECRET',
    'HOOKCAST_ADMIN_TOKEN',
    'HOOKCAST_CONFIG',
    'HOOKCAST_CONFIG_YAML',
    'HOST',
    'HOOKCAST_LOG_LEVEL',
  ])
    delete env[name]
  return env
}

interface FirstRun {
  url: string
  lines: string[]
  /** The sign-in links printed so far, in order: [origin, token]. */
  links(): Array<{ origin: string; token: string }>
  stop(): Promise<void>
}

function linksIn(lines: readonly string[]) {
  return lines.flatMap((line) => {
    const match = LINK.exec(line)
    return match ? [{ origin: match[1]!, token: match[2]! }] : []
  })
}

/** `npm start` (package.json's command, without `--config`) in `cwd`, on a port the system picks. */
async function npmStart(cwd: string): Promise<FirstRun> {
  const [command, ...args] = serverCommand('node', 'unused').slice(0, -2)
  const inRepository = args.map((arg) => (!arg.startsWith('-') && existsSync(join(ROOT, arg)) ? join(ROOT, arg) : arg))
  const child: ChildProcess = spawn(command!, inRepository, {
    cwd,
    env: newcomerEnv({ PORT: '0' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  onOutputLines(child, (line) => lines.push(line))
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      mkdirSync(join(ROOT, 'test-artifacts/server-logs'), { recursive: true })
      writeFileSync(join(ROOT, `test-artifacts/server-logs/first-run-${child.pid}.log`), lines.join('\n') + '\n')
      resolve()
    }),
  )
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
  }
  try {
    const url = await eventually(() => {
      if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}:\n${lines.join('\n')}`)
      // The log line that says a link was printed comes after the link, in a later write: wait for it too.
      const said = lines.some((line) => line.includes('one-time sign-in links printed on stdout'))
      return said && linksIn(lines).length > 0 && /"msg":"listening","url":"([^"]+)"/.exec(lines.join('\n'))?.[1]
    }, 30_000)
    return { url, lines, links: () => linksIn(lines), stop }
  } catch (error) {
    await stop()
    throw new Error(`no sign-in link: ${(error as Error).message}\n${lines.join('\n')}`)
  }
}

/** `hookcast send` as a user runs it (the package's bin), with no secret given. */
function hookcastSend(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'bin/hookcast.js'), 'send', ...args], {
    cwd: ROOT,
    env: newcomerEnv(),
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString()
  })
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })))
}

/** The sign-in form's POST, as the login page's script sends it (same-origin), without following the redirect. */
function signIn(url: string, token: string): Promise<Response> {
  return fetch(`${url}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin', origin: url },
    body: new URLSearchParams({ token }),
  })
}

const cookieOf = (response: Response) => response.headers.get('set-cookie')?.split(';')[0]

interface StreamView {
  streamId: string
  status: string
  latestThumbnail: { url: string } | null
}

/** The token shows up on exactly one line of the output (its link), and never in a JSON log line. */
function printedOnce(lines: readonly string[], token: string): void {
  expect(lines.filter((line) => line.includes(token))).toHaveLength(1)
  expect(lines.filter((line) => line.startsWith('{') && line.includes(token))).toEqual([])
}

describe.each([
  ['config.example.yaml', true],
  ['the embedded default', false],
] as const)('npm start with %s and no admin.token (node)', (_name, withExample) => {
  const tmp = tempDir('hookcast-first-run-')
  let run: FirstRun

  beforeAll(async () => {
    if (withExample) copyFileSync(join(ROOT, 'config.example.yaml'), join(tmp.path, 'config.example.yaml'))
    run = await npmStart(tmp.path)
  }, 60_000)
  afterAll(async () => {
    await run?.stop()
    tmp.remove()
  })

  it('prints a sign-in link to its own address, once, with a 256-bit token after #, and the JSON log says so without it', () => {
    expect(run.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/) // the development secret: loopback only
    const [link, ...more] = run.links()
    expect(more).toEqual([])
    expect(link!.origin).toBe(run.url)
    expect(link!.token).toMatch(/^[A-Za-z0-9_-]{43}$/)
    printedOnce(run.lines, link!.token)
    const said = run.lines.filter((line) => line.includes('one-time sign-in links printed on stdout'))
    expect(said).toHaveLength(1)
    expect(JSON.parse(said[0]!)).toMatchObject({ level: 'info', page: `${run.url}/` })
  })

  it('keeps the API closed without a session, the link token included', async () => {
    const { token } = run.links()[0]!
    expect((await fetch(`${run.url}/api/streams`)).status).toBe(401)
    expect((await fetch(`${run.url}/api/streams`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401)
    expect((await fetch(`${run.url}/api/events`, { headers: { cookie: 'hookcast_admin=made-up' } })).status).toBe(401)
    const form = await fetch(`${run.url}/login`)
    expect(form.status).toBe(200)
    expect(await form.text()).toContain('name="token"')
  })

  it('signs in once with the link; hookcast send (no secret given) fills the page; the used link is refused, the next one works', async () => {
    const first = run.links()[0]!

    for (const kind of ['feeds-started', 'thumbnail']) {
      const sent = await hookcastSend([kind, '--url', `${run.url}/hooks/millicast`, '--stream', 'ACME/lobby'])
      expect(sent.code, `${kind}: ${sent.stdout}${sent.stderr}`).toBe(0)
      expect(sent.stdout).toMatch(/^200 \{"ok":true/)
      expect(sent.stderr).toContain('development secret')
    }

    const signedIn = await signIn(run.url, first.token)
    expect(signedIn.status).toBe(303)
    expect(signedIn.headers.get('location')).toBe('/')
    expect(signedIn.headers.get('set-cookie')).toMatch(/HttpOnly/)
    const session = { cookie: cookieOf(signedIn)! }
    expect(session.cookie).toMatch(/^hookcast_admin=/)
    expect(await (await fetch(`${run.url}/`, { headers: session })).text()).toContain('id="live-grid"')

    const lobby = await eventually(async () => {
      const response = await fetch(`${run.url}/api/streams`, { headers: session })
      expect(response.status).toBe(200)
      const { streams } = (await response.json()) as { streams: StreamView[] }
      return streams.find((stream) => stream.streamId === 'ACME/lobby' && stream.latestThumbnail !== null)
    })
    expect(lobby.status).toBe('live')
    const image = await fetch(`${run.url}${lobby.latestThumbnail!.url}`, { headers: session })
    expect(image.status).toBe(200)
    expect(image.headers.get('content-type')).toBe('image/jpeg')

    // The same link a second time: no session.
    const again = await signIn(run.url, first.token)
    expect(again.status).toBe(401)
    expect(again.headers.get('set-cookie')).toBeNull()
    expect(await again.text()).toContain('used already')

    // A new link was printed for the next browser; it works once too, and the first session goes on.
    const next = await eventually(() => run.links()[1])
    expect(next.origin).toBe(run.url)
    expect(next.token).not.toBe(first.token)
    expect(run.lines.some((line) => line.includes('the sign-in link was used'))).toBe(true)
    const second = await signIn(run.url, next.token)
    expect(second.status).toBe(303)
    expect((await fetch(`${run.url}/api/streams`, { headers: { cookie: cookieOf(second)! } })).status).toBe(200)
    expect((await fetch(`${run.url}/api/streams`, { headers: session })).status).toBe(200)

    // Still closed to everyone else, and no token ever in the JSON log.
    expect((await fetch(`${run.url}/api/streams`)).status).toBe(401)
    expect((await fetch(`${run.url}/api/streams`, { headers: { authorization: `Bearer ${next.token}` } })).status).toBe(
      401,
    )
    printedOnce(run.lines, first.token)
    printedOnce(run.lines, next.token)
  })
})

describe('the sign-in link in headless Chromium (node)', skipWhen(skipBrowser), () => {
  const tmp = tempDir('hookcast-first-run-browser-')
  let run: FirstRun
  let browser: Browser

  beforeAll(async () => {
    copyFileSync(join(ROOT, 'config.example.yaml'), join(tmp.path, 'config.example.yaml'))
    run = await npmStart(tmp.path)
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS })
  }, 60_000)
  afterAll(async () => {
    await browser?.close()
    await run?.stop()
    tmp.remove()
  })

  it('opens the streams page at once, takes the token out of the address bar, and works once', async () => {
    for (const kind of ['feeds-started', 'thumbnail']) {
      expect((await hookcastSend([kind, '--url', `${run.url}/hooks/millicast`, '--stream', 'ACME/browser'])).code).toBe(
        0,
      )
    }
    const { origin, token } = run.links()[0]!
    const link = `${origin}/login#token=${token}`

    const context = await browser.newContext()
    const page = await context.newPage()
    const problems: string[] = []
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`)
    })
    await page.goto(link)
    await page.waitForSelector('[data-stream-id="ACME/browser"] img', { timeout: 15_000 })
    expect(page.url()).toBe(`${run.url}/`)
    expect(await page.evaluate(() => location.hash)).toBe('')
    // The token is in no history entry either (replaceState; Chromium even replaces the entry of a page that posts
    // its form while loading): going back never lands on the link.
    await page.goBack()
    expect(page.url()).not.toContain(token)
    expect(problems).toEqual([])
    await context.close()

    // The same link in another browser: the form, saying the link was used; no session.
    const other = await browser.newContext()
    const second = await other.newPage()
    await second.goto(link)
    await second.waitForSelector('[role=alert]', { timeout: 15_000 })
    expect(await second.textContent('[role=alert]')).toContain('used already')
    expect(second.url()).not.toContain(token)
    expect((await other.cookies()).filter((cookie) => cookie.name === 'hookcast_admin')).toEqual([])

    // The next link printed signs that browser in.
    const next = await eventually(() => run.links()[1])
    await second.goto(`${next.origin}/login#token=${next.token}`)
    await second.waitForSelector('[data-stream-id="ACME/browser"]', { timeout: 15_000 })
    await other.close()
  })

  it('clears the fragment before it signs in, and signs in through the form', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    // Stop at the form's submit, to see the page as the post leaves it.
    await page.addInitScript(() => {
      HTMLFormElement.prototype.submit = function submit() {
        ;(window as unknown as { submitted: string }).submitted = new FormData(this).get('token') as string
      }
    })
    await page.goto(`${run.url}/login#token=not-a-real-token`)
    await page.waitForFunction(() => 'submitted' in window)
    expect(await page.evaluate(() => (window as unknown as { submitted: string }).submitted)).toBe('not-a-real-token')
    expect(page.url()).toBe(`${run.url}/login`)
    expect(await page.evaluate(() => location.href)).toBe(`${run.url}/login`)
    await context.close()
  })
})

describe.each(['deno', 'bun'] as const)('first run on %s', (runtime: Runtime) => {
  const tmp = tempDir(`hookcast-first-run-${runtime}-`)
  afterAll(() => tmp.remove())

  it('prints a sign-in link once it listens, which signs in once', async () => {
    const config = join(tmp.path, 'config.yaml')
    writeFileSync(
      config,
      `
sources:
  millicast: { path: /hooks/millicast, secrets: ["\${MILLICAST_WEBHOOK_SECRET:-bWlsbGljYXN0LXRlc3Qtc2VjcmV0LTAxMjM0NTY3ODk=}"] }
spool: { dir: "${join(tmp.path, 'spool')}" }
routes: []
`,
    )
    const server = await startServer(runtime, config, { HOOKCAST_ADMIN_TOKEN: '' })
    try {
      const link = await eventually(() => linksIn(server.logs)[0], 15_000)
      expect(link.origin).toBe(server.url)
      expect((await fetch(`${server.url}/api/streams`)).status).toBe(401)
      const signedIn = await signIn(server.url, link.token)
      expect(signedIn.status).toBe(303)
      expect((await fetch(`${server.url}/api/streams`, { headers: { cookie: cookieOf(signedIn)! } })).status).toBe(200)
      expect((await signIn(server.url, link.token)).status).toBe(401)
      const next = await eventually(() => linksIn(server.logs)[1])
      expect((await signIn(server.url, next.token)).status).toBe(303)
      printedOnce(server.logs, link.token)
    } finally {
      await server.stop()
    }
  }, 60_000)
})

describe.each(RUNTIMES)('no admin.token on a public address (%s)', (runtime: Runtime) => {
  const tmp = tempDir(`hookcast-public-admin-${runtime}-`)
  afterAll(() => tmp.remove())
  const config = (admin: string) => {
    const path = join(tmp.path, `config-${admin ? 'links' : 'off'}.yaml`)
    writeFileSync(
      path,
      `
sources:
  millicast: { path: /hooks/millicast, secrets: ["\${MILLICAST_WEBHOOK_SECRET}"] }
spool: { dir: "${join(tmp.path, `spool-${admin ? 'links' : 'off'}`)}" }
routes: []
admin: { token: "\${HOOKCAST_ADMIN_TOKEN:-}"${admin} }
`,
    )
    return path
  }
  // The example config's pattern with the variable unset, listening on every interface.
  const secret = btoa('the-webhook-s-own-32-byte-secret')
  const env = { HOST: '0.0.0.0', MILLICAST_WEBHOOK_SECRET: secret, HOOKCAST_ADMIN_TOKEN: '' }

  it('keeps the page off and says why, unless admin.signInLinks: true', async () => {
    const off = await startServer(runtime, config(''), env)
    try {
      expect(off.url).toMatch(/^http:\/\/0\.0\.0\.0:\d+$/)
      const local = off.url.replace('0.0.0.0', '127.0.0.1')
      expect((await fetch(`${local}/login`)).status).toBe(404)
      expect((await fetch(`${local}/api/streams`)).status).toBe(404)
      expect(linksIn(off.logs)).toEqual([])
      const said = off.logs.find((line) => line.includes('admin page and API off'))
      expect(JSON.parse(said!)).toMatchObject({ level: 'warn' })
      expect(said).toContain('admin.signInLinks: true')
    } finally {
      await off.stop()
    }

    const on = await startServer(runtime, config(', signInLinks: true'), env)
    try {
      const link = await eventually(() => linksIn(on.logs)[0], 15_000)
      expect((await signIn(link.origin, link.token)).status).toBe(303)
    } finally {
      await on.stop()
    }
  }, 60_000)
})
