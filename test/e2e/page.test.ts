/**
 * The live streams page in a real headless Chromium, against the real gateway (Node): the login form, stream
 * tiles with their thumbnails, a stream ending, a dead delivery and its replay. Screenshots (desktop, phone, dark)
 * are saved to test-artifacts/.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  chromium,
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  type Page,
  type Route,
} from 'playwright-core'
import { ROOT, startServer, type RunningServer } from '../support/runtimes.ts'
import { startReceiver, type Receiver } from '../support/receiver.ts'
import { jpeg, post, SECRET, signedJson, signedThumbnail, type SignedHook } from '../support/hooks.ts'
import { tempDir } from '../support/files.ts'
import { eventually } from '../support/wait.ts'
import { skipWhen } from '../support/skip.ts'

const CHROMIUM = '/usr/bin/chromium'
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]
const TOKEN = 'page-test-admin-token'
const ENV = { MILLICAST_WEBHOOK_SECRET: SECRET, HOOKCAST_ADMIN_TOKEN: TOKEN }
const ARTIFACTS = join(ROOT, 'test-artifacts')
/** A deadline for a hang, not a timing: the page polls every 2 s, and a loaded CI machine slows Chromium a lot. */
const WAIT = { timeout: 30_000 }
/** Tests that wait for the page several times: several such deadlines. */
const LONG_TEST = 180_000
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true }

// CI installs chromium (.ci/run), so there a missing browser is a failure, not a skip.
const skip =
  !existsSync(CHROMIUM) && !process.env.CI && `${CHROMIUM} is missing (apt-get install chromium); it never skips in CI`

function feed(event: 'started' | 'ended', stream: string, feedId: string, at: number): Promise<SignedHook> {
  return signedJson({
    type: 'feeds',
    event,
    timestamp: at + 3,
    data: {
      feedId,
      accountId: 'ZG6NWV',
      name: stream,
      streamId: `ZG6NWV/${stream}`,
      active: event === 'started',
      [event]: at,
    },
  })
}

function thumbnail(stream: string, feedId: string, at: number): Promise<SignedHook> {
  return signedThumbnail({ body: jpeg(`${stream}-${at}`, 20_000), streamId: `ZG6NWV/${stream}`, feedId, timestamp: at })
}

/** Waits until the stream's image under `container` shows the thumbnail `eventId`, decoded. */
async function imageShown(page: Page, container: string, streamId: string, eventId: string): Promise<void> {
  await page.waitForFunction(
    ([container, streamId, eventId]) => {
      const img = document.querySelector<HTMLImageElement>(`${container} [data-stream-id="${streamId}"] img`)
      return (
        img !== null &&
        img.dataset.eventId === eventId &&
        img.src.includes(`v=${eventId}`) &&
        img.complete &&
        img.naturalWidth > 0
      )
    },
    [container, streamId, eventId] as const,
    WAIT,
  )
}

describe('live streams page in headless Chromium (node)', { ...skipWhen(skip), timeout: LONG_TEST }, () => {
  const tmp = tempDir('hookcast-page-')
  let receiver: Receiver
  let server: RunningServer
  let browser: Browser
  let contexts: BrowserContext[] = []
  let problems: string[] = []

  beforeAll(async () => {
    receiver = await startReceiver()
    receiver.answer = () => ({ status: 400, body: '{"error":"not accepting yet"}' })
    const config = join(tmp.path, 'config.yaml')
    writeFileSync(
      config,
      `
sources:
  millicast: { path: /hooks/millicast, secrets: ["\${MILLICAST_WEBHOOK_SECRET}"] }
notifiers:
  hook: { type: http, url: "${receiver.url}/in" }
spool: { dir: "${join(tmp.path, 'spool')}" }
streams: { flapWindow: 5s }
admin: { token: "\${HOOKCAST_ADMIN_TOKEN}" }
delivery: { retry: { schedule: [200ms], jitter: 0 } }
routes:
  - when: { type: feeds }
    to: [hook]
`,
    )
    server = await startServer('node', config, ENV)
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS })
    mkdirSync(ARTIFACTS, { recursive: true })
  }, 60_000)

  afterEach(async () => {
    await Promise.all(contexts.map((context) => context.close()))
    contexts = []
    // Script errors and CSP refusals show up here: the page must have none.
    expect(problems).toEqual([])
    problems = []
  })

  afterAll(async () => {
    await browser?.close()
    await server?.stop()
    await receiver?.close()
    tmp.remove()
  })

  async function open(options: BrowserContextOptions = {}): Promise<Page> {
    const context = await browser.newContext(options)
    contexts.push(context)
    const page = await context.newPage()
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
    page.on('dialog', (dialog) => {
      problems.push(`dialog: ${dialog.message()}`)
      void dialog.dismiss()
    })
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`)
    })
    await page.goto(server.url)
    return page
  }

  async function signIn(page: Page, token = TOKEN): Promise<void> {
    await page.fill('input[name=token]', token, WAIT)
    await page.click('button[type=submit]', WAIT)
  }

  async function openSignedIn(options: BrowserContextOptions = {}): Promise<Page> {
    const page = await open(options)
    await signIn(page)
    await page.waitForSelector('#live-grid', { state: 'attached', ...WAIT })
    return page
  }

  /**
   * Presses a Replay button and waits for the gateway's answer. The press goes to the button itself, not to where it
   * was: a poll's render can move the table under a pointer (an ended stream's "13 s ago" becoming "1 min ago" wraps
   * its card a line taller). In a loaded run the replay under test never happened after its click, and such a move
   * is the one way found for a click to miss.
   */
  async function replayBy(page: Page, press: () => Promise<void>): Promise<void> {
    const answered = page.waitForResponse((r) => r.url().endsWith('/api/dead-letters/replay'), WAIT)
    await press()
    expect((await answered).status()).toBe(200)
  }

  async function send(hook: SignedHook): Promise<string> {
    const response = await post(`${server.url}/hooks/millicast`, hook)
    expect(response.status).toBe(200)
    return ((await response.json()) as { id: string }).id
  }

  it('is closed without the token: the API answers 401, / is the login form, a wrong token is refused', async () => {
    expect((await fetch(`${server.url}/api/streams`)).status).toBe(401)
    expect((await fetch(`${server.url}/api/streams`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(
      200,
    )

    const page = await open()
    await page.waitForSelector('form[action="/login"] input[name=token]', WAIT)
    expect(await page.locator('#live-grid').count()).toBe(0)
    expect((await page.request.get(`${server.url}/api/streams`)).status()).toBe(401)

    await signIn(page, 'not-the-token')
    await page.waitForSelector('[role=alert]', WAIT)
    expect(await page.textContent('[role=alert]')).toContain('not right')
    await page.screenshot({ path: join(ARTIFACTS, 'page-login.png') })
    problems = problems.filter((p) => !p.includes('401')) // Chromium logs the wrong token's 401 answer: expected

    await signIn(page)
    await page.waitForSelector('#live-grid', { state: 'attached', ...WAIT })
    expect((await page.request.get(`${server.url}/api/streams`)).status()).toBe(200)
    const cookie = (await page.context().cookies()).find((c) => c.name === 'hookcast_admin')
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' })
    expect(cookie!.value).not.toContain(TOKEN) // a random session id, not the token

    await page.click('text=Sign out', WAIT)
    await page.waitForSelector('input[name=token]', WAIT)
    expect((await page.request.get(`${server.url}/api/streams`)).status()).toBe(401)
  })

  it('never signs in with the admin token from a link (browsers keep links in their history): typed only', async () => {
    const page = await open()
    await page.goto(`${server.url}/login#token=${TOKEN}`)
    await page.waitForSelector('[role=alert]', WAIT)
    expect(await page.textContent('[role=alert]')).toContain('does not sign in from a link')
    expect(page.url()).not.toContain(TOKEN)
    expect((await page.context().cookies()).filter((cookie) => cookie.name === 'hookcast_admin')).toEqual([])
    expect((await page.request.get(`${server.url}/api/streams`)).status()).toBe(401)
    problems = problems.filter((p) => !p.includes('400')) // Chromium logs the refusal's 400 answer: expected

    await signIn(page) // typed, it works
    await page.waitForSelector('#live-grid', { state: 'attached', ...WAIT })
  })

  it('shows a tile per live stream with its latest thumbnail, refreshes it, and lists a stream that ended below', async () => {
    const page = await openSignedIn()
    const t0 = Date.now()
    await send(await feed('started', 'alpha', 'feed-a1', t0 - 5 * 60_000))
    await send(await feed('started', 'alpha', 'feed-a2', t0 - 4 * 60_000))
    await send(await feed('started', 'beta', 'feed-b1', t0 - 60_000))
    const alpha1 = await send(await thumbnail('alpha', 'feed-a1', t0))
    const beta1 = await send(await thumbnail('beta', 'feed-b1', t0))
    await imageShown(page, '#live-grid', 'ZG6NWV/alpha', alpha1)
    await imageShown(page, '#live-grid', 'ZG6NWV/beta', beta1)

    const alpha = page.locator('#live-grid [data-stream-id="ZG6NWV/alpha"]')
    expect(await alpha.locator('.name').textContent()).toBe('alpha')
    expect(await alpha.locator('.account').textContent()).toBe('Account ZG6NWV')
    expect(await alpha.locator('.feeds').textContent()).toBe('2 active feeds')
    expect(await alpha.locator('.since time').getAttribute('datetime')).toBe(new Date(t0 - 5 * 60_000).toISOString())
    expect(await page.textContent('#live-count')).toBe('2')

    // A newer thumbnail replaces the image (a new URL, so no cache keeps the old one).
    const before = await alpha.locator('img').getAttribute('src')
    const alpha2 = await send(await thumbnail('alpha', 'feed-a2', t0 + 30_000))
    await imageShown(page, '#live-grid', 'ZG6NWV/alpha', alpha2)
    expect(await alpha.locator('img').getAttribute('src')).not.toBe(before)

    // Beta's only feed ends: "reconnecting" during the flap window, then it leaves the grid for the ended list.
    await send(await feed('ended', 'beta', 'feed-b1', Date.now()))
    await page.waitForSelector(
      '#live-grid [data-stream-id="ZG6NWV/beta"][data-status="ending"] .badge.reconnecting',
      WAIT,
    )
    await page.waitForSelector('#live-grid [data-stream-id="ZG6NWV/beta"]', { state: 'detached', ...WAIT })
    await imageShown(page, '#ended-list', 'ZG6NWV/beta', beta1)
    expect(await page.textContent('#ended-list [data-stream-id="ZG6NWV/beta"]')).toContain('beta')
    expect(await alpha.count()).toBe(1)
    expect(await page.textContent('#live-count')).toBe('1')
  })

  it('shows a dead delivery with its error, and Replay delivers it', async () => {
    const page = await openSignedIn()
    const t0 = Date.now()
    const started = await send(await feed('started', 'gamma', 'feed-g1', t0))
    await send(await feed('started', 'gamma', 'feed-g2', t0 + 500)) // left dead for "Replay all"
    const gamma1 = await send(await thumbnail('gamma', 'feed-g1', t0 + 1_000))
    const dead = page.locator(
      `#events-body tr[data-event-id="${started}"] [data-destination="hook"][data-state="dead"]`,
    )
    await dead.waitFor(WAIT)
    expect(await dead.locator('.chip').textContent()).toBe('dead')
    expect(await dead.locator('.detail').textContent()).toMatch(
      /after 1 attempt: hook \(http:\/\/127\.0\.0\.1:\d+\) answered 400/,
    )
    await page.waitForSelector('#dead-count.bad', WAIT)
    await imageShown(page, '#live-grid', 'ZG6NWV/gamma', gamma1)

    // Screenshots with live tiles, an ended stream and dead letters: desktop light and dark, then a phone.
    await page.setViewportSize({ width: 1280, height: 900 })
    await page.screenshot({ path: join(ARTIFACTS, 'page-desktop.png'), fullPage: true })
    await page.emulateMedia({ colorScheme: 'dark' })
    await page.screenshot({ path: join(ARTIFACTS, 'page-desktop-dark.png'), fullPage: true })
    const phone = await openSignedIn(PHONE)
    await imageShown(phone, '#live-grid', 'ZG6NWV/gamma', gamma1)
    await phone.waitForSelector(`#events-body tr[data-event-id="${started}"] [data-state="dead"]`, WAIT)
    await phone.screenshot({ path: join(ARTIFACTS, 'page-phone.png') })
    await phone.screenshot({ path: join(ARTIFACTS, 'page-phone-full.png'), fullPage: true })
    await phone.locator('#events').screenshot({ path: join(ARTIFACTS, 'page-phone-events.png') })
    const columns = await phone.$eval(
      '#live-grid',
      (grid) => getComputedStyle(grid).gridTemplateColumns.split(' ').length,
    )
    expect(columns).toBe(1)

    // The receiver is fixed: replaying this one delivery delivers it, and only it.
    receiver.answer = () => ({ status: 200 })
    const before = receiver.requests.length
    await replayBy(page, () => dead.locator('button.replay').dispatchEvent('click', undefined, WAIT))
    await page.waitForSelector(
      `#events-body tr[data-event-id="${started}"] [data-destination="hook"][data-state="delivered"]`,
      WAIT,
    )
    await eventually(
      () =>
        receiver.requests.slice(before).some((r) => (JSON.parse(r.body.toString()) as { id?: string }).id === started),
      5_000,
    )
    expect(receiver.requests.length - before).toBe(1)

    // The other dead letters (gamma's second feed, the earlier tests' feed hooks) go with "Replay all".
    const remaining = await page.locator('#events-body [data-state="dead"]').count()
    expect(remaining).toBeGreaterThan(0)
    await replayBy(page, () => page.dispatchEvent('#replay-all', 'click', undefined, WAIT))
    await page.waitForSelector('#events-body [data-state="dead"]', { state: 'detached', ...WAIT })
    await page.waitForSelector('#dead-count:not(.bad)', WAIT)
    expect(await page.isDisabled('#replay-all')).toBe(true)
    const letters = await fetch(`${server.url}/api/dead-letters`, { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(await letters.json()).toEqual({ deadLetters: [] })
    await eventually(() => receiver.requests.length - before === 1 + remaining, 20_000)
  })

  it('says the gateway is unreachable when an API request goes unanswered, and recovers when it answers again', async () => {
    const page = await openSignedIn()
    await page.waitForSelector('#offline', { state: 'hidden', ...WAIT })
    // A gateway that stalls: the request reaches nothing and nothing ever answers it.
    const stalled: Route[] = []
    await page.route('**/api/status', (route) => void stalled.push(route))
    await page.waitForSelector('#offline:not([hidden])', WAIT)
    expect(await page.locator('#offline').textContent()).toContain('no answer in 10 s')
    await page.unroute('**/api/status')
    await Promise.all(stalled.map((route) => route.abort().catch(() => {})))
    await page.waitForSelector('#offline', { state: 'hidden', ...WAIT })
  })

  it('keeps an ended card the same height while its "ago" grows, so a poll never moves a button under the pointer', async () => {
    // The page's clock is fixed (timers still run), and /api/streams answers with an ended stream of the test's own:
    // the card is rendered at "13 s ago", then, two hours later by the page's clock, at "2 h 5 min ago".
    const now = Date.now()
    const ended = {
      streamId: 'ZG6NWV/delta',
      accountId: 'ZG6NWV',
      streamName: 'delta',
      status: 'ended',
      liveSince: now - 13_000 - 65_000,
      endedAt: now - 13_000,
      feeds: 0,
      latestThumbnail: null,
      updatedAt: now - 13_000,
    }
    const context = await browser.newContext()
    contexts.push(context)
    await context.clock.setFixedTime(now)
    const page = await context.newPage()
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
    await page.route('**/api/streams', (route) => route.fulfill({ json: { streams: [ended] } }))
    await page.goto(server.url)
    await signIn(page)
    const card = page.locator('#ended-list [data-stream-id="ZG6NWV/delta"]')
    await page.waitForFunction(() => document.querySelector('#ended-list li')?.textContent?.includes('13 s ago'), WAIT)
    const before = await card.boundingBox()

    await context.clock.setFixedTime(now + (2 * 60 + 5) * 60_000)
    await page.waitForFunction(
      () => document.querySelector('#ended-list li')?.textContent?.includes('2 h 5 min ago'),
      WAIT,
    )
    expect(before).not.toBeNull()
    expect((await card.boundingBox())?.height).toBe(before!.height)
  })

  it('shows stream names and errors as text, never as markup', async () => {
    const page = await openSignedIn()
    const name = '<img src=x onerror=alert(1)>"quoted"&amp;'
    const hook = await signedJson({
      type: 'feeds',
      event: 'started',
      timestamp: Date.now(),
      data: {
        feedId: 'feed-x',
        accountId: 'ZG6NWV',
        name,
        streamId: `ZG6NWV/${name}`,
        active: true,
        started: Date.now(),
      },
    })
    await send(hook)
    const tile = page.locator('#live-grid .tile', { hasText: '"quoted"' })
    await tile.waitFor(WAIT)
    expect(await tile.locator('.name').textContent()).toBe(name)
    expect(await page.locator('#live-grid img[src="x"]').count()).toBe(0)
  })
})
