/**
 * An event acknowledged with a 200 is already a whole file in a local fs sink: killed with SIGKILL right after its
 * answers, the server leaves every acknowledged event's file in place, byte for byte, before any restart (the sink
 * stores it before the answer; the spool keeps only the other deliveries). With `spool.fsync` the spool keeps the
 * sink's delivery too: the durability and crash-loop tests cover that path.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { RUNTIMES, startServer, type Runtime } from '../support/runtimes.ts'
import { jpeg, post, signedThumbnail } from '../support/hooks.ts'
import { listFiles, tempDir } from '../support/files.ts'

const SECRET_ENV = { MILLICAST_WEBHOOK_SECRET: 'bWlsbGljYXN0LXRlc3Qtc2VjcmV0LTAxMjM0NTY3ODk=' }

describe.each<Runtime>(RUNTIMES)('kill -9 right after the answers on %s', (runtime) => {
  const tmp = tempDir(`hookcast-stored-kill-${runtime}-`)
  afterAll(() => tmp.remove())

  it('leaves every acknowledged event whole in the fs sink', async () => {
    const data = join(tmp.path, 'data')
    const config = join(tmp.path, 'config.yaml')
    writeFileSync(
      config,
      `
sources:
  millicast: { path: /hooks/millicast, secrets: ["\${MILLICAST_WEBHOOK_SECRET}"] }
sinks:
  disk: { type: fs, dir: "${data}", key: "{type}/{id}.{ext}" }
spool: { dir: "${join(tmp.path, 'spool')}" }
routes:
  - to: [disk]
`,
    )
    const hooks = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        signedThumbnail({ body: jpeg(`kill-${i}`, 20_000 + i * 1_000), timestamp: 1_700_000_000_000 + i }),
      ),
    )
    const server = await startServer(runtime, config, SECRET_ENV)
    const accepted = new Map<string, Buffer>()
    let next = 0
    let killed: Promise<void> | undefined
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < hooks.length && !killed) {
          const hook = hooks[next++]!
          try {
            const response = await post(`${server.url}/hooks/millicast`, hook)
            if (response.status !== 200) continue
            accepted.set(((await response.json()) as { id: string }).id, Buffer.from(hook.body))
            if (accepted.size === 20) killed ??= server.kill() // at once, while answers are still going out
          } catch {
            // the server died under this request: it was not acknowledged
          }
        }
      }),
    )
    await killed
    expect(accepted.size).toBeGreaterThanOrEqual(20)
    const files = listFiles(data)
    for (const [id, body] of accepted) {
      const file = files.find((path) => path === `thumbnail/${id}.jpg`)
      expect(file, `file of acknowledged ${id}`).toBeDefined()
      expect(readFileSync(join(data, file!)).equals(body), `bytes of ${id}`).toBe(true)
    }
  }, 60_000)
})
