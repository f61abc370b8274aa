/**
 * Issue 20, item 8: the gateway's signed thumbnail links (`/thumbnails/...`, for Slack's incoming webhooks) tell
 * caches to keep an image no longer than its link lives, and every answer carries `nosniff`. In process, with an
 * injected clock.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { createGateway, type Gateway } from '../../src/gateway.ts'
import { parseConfig } from '../../src/config/load.ts'
import { createThumbnailLinks } from '../../src/streams/thumbnail-links.ts'
import { localSigningKeyStore } from '../../src/backends/local/signing-key.ts'
import type { ThumbnailRef } from '../../src/streams/stream-types.ts'
import { jpeg, PAYLOADS, post, SECRET, signedJson, signedThumbnail, type SignedHook } from '../support/hooks.ts'
import { tempDir } from '../support/files.ts'
import { eventually } from '../support/wait.ts'
import { forgedLink } from '../support/forged-link.ts'

const BASE = 'http://hookcast.test'
const TOKEN = 'thumbnail-links-admin-token'
const DAY_MS = 86_400_000

interface StreamView {
  streamId: string
  latestThumbnail: { eventId: string } | null
}
let dir: ReturnType<typeof tempDir>
let gateway: Gateway
let clock: number

beforeEach(async () => {
  dir = tempDir('hookcast-thumbnail-links-')
  clock = Date.now()
  gateway = await createGateway(
    parseConfig(
      `
sources: { millicast: { path: /hooks/millicast, secrets: ["${SECRET}"] } }
spool: { dir: "${join(dir.path, 'spool')}" }
admin: { token: ${TOKEN} }
`,
      {},
    ),
    { now: () => clock },
  )
})
afterEach(async () => {
  await gateway.close(100)
  dir.remove()
})

/** A signed link to the stream's latest thumbnail, made with the gateway's own key, living `expiryMs`. */
async function linkToLatest(expiryMs: number): Promise<string> {
  const hook = (signed: SignedHook) => post(`${BASE}/hooks/millicast`, signed, gateway.fetch)
  expect((await hook(await signedJson(PAYLOADS.feedsStarted))).status).toBe(200)
  expect((await hook(await signedThumbnail({ body: jpeg('cached', 4_000), timestamp: clock }))).status).toBe(200)
  const stream = await eventually(async () => {
    const headers = { authorization: `Bearer ${TOKEN}` }
    const answer = await gateway.fetch(new Request(`${BASE}/api/streams`, { headers }))
    const { streams } = (await answer.json()) as { streams: StreamView[] }
    return streams[0]?.latestThumbnail ? streams[0] : undefined
  })
  const ref = { eventId: stream.latestThumbnail!.eventId, event: { streamId: stream.streamId } } as ThumbnailRef
  const links = await createThumbnailLinks(localSigningKeyStore(join(dir.path, 'spool', 'streams')), () => clock)
  const url = new URL(await links.url(BASE, ref, expiryMs))
  return `${url.pathname}${url.search}`
}

const get = (path: string) => gateway.fetch(new Request(`${BASE}${path}`))

describe('signed thumbnail links', () => {
  it('let a cache keep the image for the time the link has left, at most a day, never past its expiry', async () => {
    const link = await linkToLatest(7 * DAY_MS)
    const fresh = await get(link)
    expect(fresh.status).toBe(200)
    expect(fresh.headers.get('content-type')).toBe('image/jpeg')
    expect(fresh.headers.get('cache-control')).toBe('public, max-age=86400')

    clock += 7 * DAY_MS - 100_000 // 100 s left
    const late = await get(link)
    expect(late.status).toBe(200)
    const maxAge = Number(/^public, max-age=(\d+)$/.exec(late.headers.get('cache-control') ?? '')?.[1])
    expect(maxAge).toBeGreaterThanOrEqual(99)
    expect(maxAge).toBeLessThanOrEqual(100)

    clock += 101_000
    expect((await get(link)).status).toBe(403)
  })

  it('send X-Content-Type-Options: nosniff with the image and with every refusal', async () => {
    const link = await linkToLatest(60_000)
    const forged = forgedLink(link)
    const answers = [await get(link), await get(forged), await get('/thumbnails/x'), await get('/thumbnails/a/b.jpg')]
    expect(answers.map((answer) => answer.status)).toEqual([200, 403, 404, 403])
    for (const answer of answers) expect(answer.headers.get('x-content-type-options')).toBe('nosniff')
  })
})
