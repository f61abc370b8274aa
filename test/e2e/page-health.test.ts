/**
 * Stream health and housekeeping on the live page, in a real headless Chromium against the real gateway (Node),
 * with real JPEG sequences: the health badge and the problem's thumbnail on a card, /api/streams carrying the state,
 * a stream that only sent thumbnails, a date of another year, the destinations in words, and forgetting a stream
 * (the API call and the page's button). Screenshots go to test-artifacts/.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { ROOT, startServer, type RunningServer } from '../support/runtimes.ts'
import { startReceiver, type Receiver } from '../support/receiver.ts'
import { post, SECRET, signedJson, signedThumbnail, type SignedHook } from '../support/hooks.ts'
import { pictureFixtures, type PictureFixtures } from '../support/pictures.ts'
import { tempDir } from '../support/files.ts'
import { eventually } from '../support/wait.ts'
import { skipWhen } from '../support/skip.ts'

const CHROMIUM = '/usr/bin/chromium'
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking']
const TOKEN = 'page-health-admin-token'
const ENV = { MILLICAST_WEBHOOK_SECRET: SECRET, HOOKCAST_ADMIN_TOKEN: TOKEN }
const ARTIFACTS = join(ROOT, 'test-artifacts')
const WAIT = { timeout: 20_000 }
const BEARER = { authorization: `Bearer ${TOKEN}` }
const YEAR_2021 = Date.UTC(2021, 11, 2, 10, 0, 0)

const skip =
  !existsSync(CHROMIUM) && !process.env.CI && `${CHROMIUM} is missing (apt-get install chromium); it never skips in CI`

function feed(event: 'started' | 'ended', stream: string, at: number): Promise<SignedHook> {
  const data = { feedId: `${stream}-f`, accountId: 'ZG6NWV', name: stream, streamId: `ZG6NWV/${stream}` }
  return signedJson({
    type: 'feeds',
    event,
    timestamp: at + 3,
    data: { ...data, active: event === 'started', [event]: at },
  })
}

interface ApiStream {
  streamId: string
  status: string
  health: { state: string; problems: Array<{ problem: string; thumbnail: { eventId: string; url: string } }> } | null
}

describe('stream health and housekeeping on the live page (node)', skipWhen(skip), () => {
  const tmp = tempDir('hookcast-page-health-')
  let receiver: Receiver
  let server: RunningServer
  let browser: Browser
  let pictures: PictureFixtures
  let contexts: BrowserContext[] = []
  let problems: string[] = []
  const dialogs: string[] = []

  beforeAll(async () => {
    receiver = await startReceiver()
    pictures = await pictureFixtures()
    const config = join(tmp.path, 'config.yaml')
    writeFileSync(
      config,
      `
sources:
  millicast: { path: /hooks/millicast, secrets: ["\${MILLICAST_WEBHOOK_SECRET}"] }
notifiers:
  hook: { type: http, url: "${receiver.url}/in" }
spool: { dir: "${join(tmp.path, 'spool')}" }
streams: { flapWindow: 1s, thumbnailWait: 1s }
admin: { token: "\${HOOKCAST_ADMIN_TOKEN}" }
routes:
  - when: { type: stream }
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
    expect(problems).toEqual([]) // script errors and CSP refusals
    problems = []
  })

  afterAll(async () => {
    await browser?.close()
    await server?.stop()
    await receiver?.close()
    tmp.remove()
  })

  async function openSignedIn(): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    contexts.push(context)
    const page = await context.newPage()
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`)
    })
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message())
      void dialog.accept()
    })
    await page.goto(server.url)
    await page.fill('input[name=token]', TOKEN, WAIT)
    await page.click('button[type=submit]', WAIT)
    await page.waitForSelector('#live-grid', { state: 'attached', ...WAIT })
    return page
  }

  async function send(hook: SignedHook): Promise<void> {
    expect((await post(`${server.url}/hooks/millicast`, hook)).status).toBe(200)
  }
  const analysed = async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text()
    return Number(/^hookcast_picture_analyses_total\{outcome="analysed"\} (\d+)$/m.exec(text)?.[1] ?? 0)
  }
  let looked = 0
  /** Sends a thumbnail and waits until the tracker has looked at it (one at a time per stream, or it skips). */
  async function thumbnail(stream: string, jpeg: Uint8Array, at: number): Promise<void> {
    await send(
      await signedThumbnail({ body: jpeg, streamId: `ZG6NWV/${stream}`, feedId: `${stream}-f`, timestamp: at }),
    )
    looked++
    await eventually(async () => (await analysed()) >= looked, 20_000)
  }
  async function streams(): Promise<ApiStream[]> {
    const response = await fetch(`${server.url}/api/streams`, { headers: BEARER })
    return ((await response.json()) as { streams: ApiStream[] }).streams
  }

  it('shows each stream’s health, the black picture that raised the problem, and the state in /api/streams', async () => {
    const page = await openSignedIn()
    const t0 = Date.now()
    await send(await feed('started', 'dark', t0))
    await send(await feed('started', 'bright', t0))
    await thumbnail('dark', pictures.varied[0]!, t0 + 1_000)
    for (const [i, jpeg] of pictures.black.slice(0, 2).entries())
      await thumbnail('dark', jpeg, t0 + 31_000 + i * 30_000)
    for (const [i, jpeg] of pictures.varied.slice(1, 3).entries())
      await thumbnail('bright', jpeg, t0 + 1_000 + i * 30_000)

    const dark = await eventually(async () => (await streams()).find((s) => s.health?.state === 'black'))
    expect(dark.streamId).toBe('ZG6NWV/dark')
    const shown = dark.health!.problems[0]!
    expect(shown.problem).toBe('black')
    const bytes = await fetch(`${server.url}${shown.thumbnail.url}`, { headers: BEARER })
    expect(bytes.headers.get('content-type')).toBe('image/jpeg')
    const body = Buffer.from(await bytes.arrayBuffer())
    expect(pictures.black.slice(0, 2).some((jpeg) => Buffer.from(jpeg).equals(body))).toBe(true)
    // Only thumbnails the record refers to: no other event id reaches the store.
    const other = `${server.url}/api/streams/${encodeURIComponent('ZG6NWV/dark')}/thumbnail?event=nope`
    expect((await fetch(other, { headers: BEARER })).status).toBe(404)
    expect((await streams()).find((s) => s.streamId === 'ZG6NWV/bright')?.health?.state).toBe('ok')

    const card = page.locator('#live-grid [data-stream-id="ZG6NWV/dark"]')
    await card.locator('.health[data-state="black"]').waitFor(WAIT)
    expect(await card.locator('.health').textContent()).toMatch(/^Black picture for \d+/)
    await page.waitForFunction(
      (eventId) => {
        const img = document.querySelector<HTMLImageElement>('[data-stream-id="ZG6NWV/dark"] .problem img')
        return img?.dataset.eventId === eventId && img.complete && img.naturalWidth > 0
      },
      shown.thumbnail.eventId,
      WAIT,
    )
    expect(await card.locator('.problem .caption').textContent()).toMatch(/^Black picture at /)
    const bright = page.locator('#live-grid [data-stream-id="ZG6NWV/bright"]')
    await bright.locator('.health[data-state="ok"]').waitFor(WAIT)
    expect(await bright.locator('.health').textContent()).toBe('Picture OK')
    expect(await bright.locator('.problem').isHidden()).toBe(true)
    expect(await page.textContent('#status')).toContain('The destination is delivering')
    await page.screenshot({ path: join(ARTIFACTS, 'page-health.png'), fullPage: true })
  }, 120_000)

  it('shows a stream that only sent thumbnails, and a date of another year with its year', async () => {
    const page = await openSignedIn()
    const at = Date.now()
    await send(await signedThumbnail({ body: pictures.varied[3]!, streamId: 'ZG6NWV/thumbs', timestamp: at }))
    await send(await feed('started', 'old', YEAR_2021))
    await send(await feed('ended', 'old', YEAR_2021 + 60_000))

    const thumbs = page.locator('#ended-list [data-stream-id="ZG6NWV/thumbs"]')
    await thumbs.waitFor(WAIT)
    expect(await thumbs.locator('p').textContent()).toMatch(/^Thumbnails only, last at \S/)
    expect(await thumbs.locator('time').getAttribute('datetime')).toBe(new Date(at).toISOString())
    const old = page.locator('#ended-list [data-stream-id="ZG6NWV/old"]')
    await old.waitFor(WAIT)
    expect(await old.locator('p').textContent()).toMatch(/^Ended .*2021.*, live for 1 min/)
  })

  it('forgets a stale stream: the API call (guarded) and the page’s button after a confirmation', async () => {
    const page = await openSignedIn()
    await send(await feed('started', 'stale', YEAR_2021))
    const tile = page.locator('#live-grid [data-stream-id="ZG6NWV/stale"]')
    await tile.waitFor(WAIT)
    expect(await tile.locator('.since').textContent()).toContain('2021')

    const url = `${server.url}/api/streams/${encodeURIComponent('ZG6NWV/stale')}`
    expect((await fetch(url, { method: 'DELETE' })).status).toBe(401)
    const crossSite = { ...BEARER, origin: 'https://evil.example' }
    expect((await fetch(url, { method: 'DELETE', headers: crossSite })).status).toBe(403)
    expect((await fetch(`${url}-nope`, { method: 'DELETE', headers: BEARER })).status).toBe(404)
    expect((await streams()).some((s) => s.streamId === 'ZG6NWV/stale')).toBe(true)

    await tile.locator('button.forget').click(WAIT)
    await tile.waitFor({ state: 'detached', ...WAIT })
    expect(dialogs.at(-1)).toContain('Forget stale?')
    expect((await streams()).some((s) => s.streamId === 'ZG6NWV/stale')).toBe(false)
    expect(await page.textContent('#flash')).toBe('stale forgotten')
  })
})
