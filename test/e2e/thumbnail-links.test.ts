/**
 * Issue 20, item 8, on every runtime: a signed thumbnail link's answer carries `nosniff` and a `max-age` no longer
 * than the link has left (test/streams/thumbnail-links.test.ts moves the clock; here the link is made to live an
 * hour, so a day's cap would show). The link is signed with the key the server keeps beside its stream state.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { RUNTIMES, startServer, type RunningServer, type Runtime } from '../support/runtimes.ts'
import { jpeg, PAYLOADS, post, SECRET, signedJson, signedThumbnail } from '../support/hooks.ts'
import { tempDir } from '../support/files.ts'
import { eventually } from '../support/wait.ts'
import { createThumbnailLinks } from '../../src/streams/thumbnail-links.ts'
import { localSigningKeyStore } from '../../src/backends/local/signing-key.ts'
import type { ThumbnailRef } from '../../src/streams/stream-types.ts'
import { forgedLink } from '../support/forged-link.ts'

const TOKEN = 'thumbnail-links-e2e-token'
const HOUR_S = 3_600

interface StreamView {
  streamId: string
  latestThumbnail: { eventId: string } | null
}

describe.each<Runtime>(RUNTIMES)('signed thumbnail links on %s', (runtime) => {
  const tmp = tempDir(`hookcast-thumbnail-links-${runtime}-`)
  let server: RunningServer

  beforeAll(async () => {
    const config = join(tmp.path, 'config.yaml')
    writeFileSync(
      config,
      `
sources:
  millicast: { path: /hooks/millicast, secrets: ["${SECRET}"] }
spool: { dir: "${join(tmp.path, 'spool')}" }
admin: { token: ${TOKEN} }
`,
    )
    server = await startServer(runtime, config)
  }, 40_000)
  afterAll(async () => {
    await server?.stop()
    tmp.remove()
  })

  it("answer with nosniff, and a max-age within the link's life", async () => {
    const hooks = `${server.url}/hooks/millicast`
    expect((await post(hooks, await signedJson(PAYLOADS.feedsStarted))).status).toBe(200)
    const thumbnail = await signedThumbnail({ body: jpeg(runtime, 4_000), timestamp: Date.now() })
    expect((await post(hooks, thumbnail)).status).toBe(200)
    const stream = await eventually(async () => {
      const answer = await fetch(`${server.url}/api/streams`, { headers: { authorization: `Bearer ${TOKEN}` } })
      const { streams } = (await answer.json()) as { streams: StreamView[] }
      return streams[0]?.latestThumbnail ? streams[0] : undefined
    })
    const ref = { eventId: stream.latestThumbnail!.eventId, event: { streamId: stream.streamId } } as ThumbnailRef
    const links = await createThumbnailLinks(localSigningKeyStore(join(tmp.path, 'spool', 'streams')))
    const link = await links.url(server.url, ref, HOUR_S * 1000)

    const image = await fetch(link)
    expect(image.status).toBe(200)
    expect(image.headers.get('x-content-type-options')).toBe('nosniff')
    const maxAge = Number(/^public, max-age=(\d+)$/.exec(image.headers.get('cache-control') ?? '')?.[1])
    expect(maxAge).toBeGreaterThan(0)
    expect(maxAge).toBeLessThanOrEqual(HOUR_S)
    await image.body?.cancel()

    const forged = await fetch(forgedLink(link))
    expect(forged.status).toBe(403)
    expect(forged.headers.get('x-content-type-options')).toBe('nosniff')
  })
})
