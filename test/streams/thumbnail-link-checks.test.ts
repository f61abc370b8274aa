/**
 * hookcast's signed thumbnail links (streams/thumbnail-links.ts, served by streams/thumbnail-routes.ts), through the real
 * gateway: a link works until its expiry and not after, its signature is worth nothing on another stream's path
 * (or with another expiry), and a valid link to a thumbnail that is not kept is a 404, not a 403.
 *
 * Links are signed here with the gateway's own key (the file beside its stream state) and a clock the gateway
 * shares, which the test moves forward instead of waiting.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { createGateway, type Gateway } from '../../src/gateway.ts'
import { parseConfig } from '../../src/config/load.ts'
import { silentLogger } from '../../src/log.ts'
import { localSigningKeyStore } from '../../src/backends/local/signing-key.ts'
import { createThumbnailLinks, type ThumbnailLinks } from '../../src/streams/thumbnail-links.ts'
import type { ThumbnailRef } from '../../src/streams/stream-types.ts'
import { jpeg, post, SECRET, signedThumbnail } from '../support/hooks.ts'
import { tempDir } from '../support/files.ts'
import { eventually } from '../support/wait.ts'

const BASE = 'http://hookcast.test'
const STREAM_A = 'ZG6NWV/show-a'
const STREAM_B = 'ZG6NWV/show-b'
const EXPIRY_MS = 60 * 60_000

let dir: ReturnType<typeof tempDir>
let gateway: Gateway
let links: ThumbnailLinks
let offset = 0
const now = () => Date.now() + offset
const stored: Record<string, { id: string; body: Uint8Array }> = {}

beforeAll(async () => {
  dir = tempDir('hookcast-thumbnail-links-')
  const config = parseConfig(
    `
sources:
  millicast: { path: /hooks/millicast, secrets: ["${SECRET}"] }
spool: { dir: "${dir.path}/spool" }
routes: []
`,
    {},
  )
  gateway = await createGateway(config, { log: silentLogger, now })
  links = await createThumbnailLinks(localSigningKeyStore(join(dir.path, 'spool', 'streams')), now)
  for (const streamId of [STREAM_A, STREAM_B]) {
    const body = jpeg(`thumbnail of ${streamId}`, 3_000)
    const hook = await signedThumbnail({ body, streamId, timestamp: Date.now() })
    const response = await post(`${BASE}/hooks/millicast`, hook, gateway.fetch)
    expect(response.status).toBe(200)
    const { id } = (await response.json()) as { id: string }
    stored[streamId] = { id, body }
  }
  // The stream tracker keeps each thumbnail (a stream not live yet keeps it durably at once).
  for (const [streamId, { id }] of Object.entries(stored)) {
    await eventually(() => gateway.streams.thumbnail(streamId, id))
  }
})
afterAll(async () => {
  await gateway?.close()
  dir?.remove()
})

const refOf = (streamId: string, eventId: string) => ({ eventId, timestamp: 1, event: { streamId } }) as ThumbnailRef
const get = (url: string) => gateway.fetch(new Request(url))
const errorOf = async (response: Response) => ((await response.json()) as { error: string }).error

describe('signed thumbnail links', () => {
  it('serve the thumbnail kept for the stream', async () => {
    const url = await links.url(BASE, refOf(STREAM_A, stored[STREAM_A]!.id), EXPIRY_MS)
    expect(new URL(url).pathname).toBe(`/thumbnails/${encodeURIComponent(STREAM_A)}/${stored[STREAM_A]!.id}.jpg`)
    const response = await get(url)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('image/jpeg')
    expect(Buffer.from(await response.arrayBuffer()).equals(Buffer.from(stored[STREAM_A]!.body))).toBe(true)
  })

  it('work until their expiry, and are refused after it', async () => {
    const url = await links.url(BASE, refOf(STREAM_A, stored[STREAM_A]!.id), EXPIRY_MS)
    try {
      offset = EXPIRY_MS - 60_000
      expect((await get(url)).status).toBe(200)
      offset = EXPIRY_MS + 60_000
      const expired = await get(url)
      expect(expired.status).toBe(403)
      expect(await errorOf(expired)).toBe('bad_link')
    } finally {
      offset = 0
    }
  })

  it("are refused when their signature is used on another stream's path, or with another expiry", async () => {
    const a = new URL(await links.url(BASE, refOf(STREAM_A, stored[STREAM_A]!.id), EXPIRY_MS))
    const b = new URL(await links.url(BASE, refOf(STREAM_B, stored[STREAM_B]!.id), EXPIRY_MS))
    expect((await get(b.href)).status).toBe(200) // B's own link works: what follows is the signature's doing
    const borrowed = new URL(b.pathname, BASE)
    borrowed.search = a.search // A's exp and sig, on B's thumbnail
    const refused = await get(borrowed.href)
    expect(refused.status).toBe(403)
    expect(await errorOf(refused)).toBe('bad_link')
    // The same event file name under another stream: the stream is part of what is signed.
    const otherStream = new URL(`/thumbnails/${encodeURIComponent(STREAM_B)}/${stored[STREAM_A]!.id}.jpg`, BASE)
    otherStream.search = a.search
    expect((await get(otherStream.href)).status).toBe(403)
    const longer = new URL(a.href)
    longer.searchParams.set('exp', String(Number(a.searchParams.get('exp')) + 86_400))
    expect((await get(longer.href)).status).toBe(403)
  })

  it('answer 404 for a valid link to a thumbnail that is not kept', async () => {
    const missing = 'f'.repeat(24)
    expect(await gateway.streams.thumbnail(STREAM_A, missing)).toBeUndefined()
    const response = await get(await links.url(BASE, refOf(STREAM_A, missing), EXPIRY_MS))
    expect(response.status).toBe(404)
    expect(await errorOf(response)).toBe('not_found')
    // Without a valid signature the same path is a 403: nobody learns what is kept without a link.
    expect((await get(`${BASE}/thumbnails/${encodeURIComponent(STREAM_A)}/${missing}.jpg`)).status).toBe(403)
  })
})
