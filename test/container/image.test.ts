/**
 * The container image, built from the unmodified Dockerfile with podman and run as an operator would: signed hooks
 * land on the mounted /data volume, the process is not root, the HEALTHCHECK passes, `podman stop` drains and exits
 * 0, and the development secret refuses to start rather than listen where nobody reaches it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chmodSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fetchOnce } from '../support/fetch-once.ts'
import { listFiles, tempDir } from '../support/files.ts'
import { PAYLOADS, post, signedJson, signedThumbnail } from '../support/hooks.ts'
import { freePort } from '../support/ports.ts'
import { ROOT } from '../support/runtimes.ts'
import { skipWhen } from '../support/skip.ts'
import { eventually } from '../support/wait.ts'
import { podman, podmanMissing, type Podman } from './podman.ts'

const IMAGE = 'localhost/hookcast:test'
const SECRET = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64')
const missing = await podmanMissing()

describe('the container image (podman)', skipWhen(missing), () => {
  let p: Podman
  const containers: string[] = []

  beforeAll(async () => {
    p = await podman(ROOT)
    // The first build runs npm ci in the build stage (minutes); later ones reuse its layers.
    await p(['build', '--format', 'docker', ...p.buildArgs, '-t', IMAGE, ROOT], 1_500_000)
  }, 1_800_000)
  afterAll(async () => {
    for (const id of containers) await p(['rm', '-f', '-v', id]).catch(() => {})
  })

  /** Starts the image detached with `args` before it; returns the container id. */
  const start = async (args: readonly string[]): Promise<string> => {
    const { stdout } = await p(['run', '-d', ...args, IMAGE])
    const id = stdout.trim()
    containers.push(id)
    return id
  }
  const logs = async (id: string) => {
    const { stdout, stderr } = await p(['logs', id])
    return stdout + stderr
  }
  const exitCode = async (id: string) => Number((await p(['inspect', '--format', '{{.State.ExitCode}}', id])).stdout)

  it('stores signed hooks on /data as a non-root user, is healthy, and drains and exits 0 on podman stop', async () => {
    const data = tempDir('hookcast-image-data-')
    chmodSync(data.path, 0o777) // the image's user (uid 1000) writes there
    try {
      const port = await freePort()
      const cid = await start([
        '-p',
        `127.0.0.1:${port}:8080`,
        '-e',
        `MILLICAST_WEBHOOK_SECRET=${SECRET}`,
        '-v',
        `${data.path}:/data`,
      ])
      const url = `http://127.0.0.1:${port}`
      await eventually(async () => (await fetchOnce(`${url}/readyz`)).status === 200, 60_000, 250)

      const hooks = [
        await signedJson(PAYLOADS.feedsStarted, SECRET),
        await signedThumbnail({ secret: SECRET }),
        await signedJson(PAYLOADS.feedsEnded, SECRET),
      ]
      for (const hook of hooks) expect((await post(`${url}/hooks/millicast`, hook)).status).toBe(200)
      const refused = await post(`${url}/hooks/millicast`, await signedJson(PAYLOADS.feedsStarted)) // dev secret
      expect(refused.status).toBe(401)

      const files = await eventually(() => {
        const found = listFiles(data.path)
        return found.length === 3 && found
      }, 30_000)
      expect(files.filter((file) => file.startsWith('feeds/'))).toHaveLength(2)
      expect(files.filter((file) => file.startsWith('thumbnail/'))).toHaveLength(1)
      expect(readFileSync(join(data.path, files.find((f) => f.endsWith('.jpg'))!))).toEqual(Buffer.from(hooks[1]!.body))
      for (const file of files) expect(statSync(join(data.path, file)).uid).not.toBe(0)

      // PID 1 is the gateway itself, not a shell or an init, and it is not root.
      const command = (await p(['exec', cid, 'cat', '/proc/1/cmdline'])).stdout.split('\0').filter(Boolean)
      expect(command).toEqual(['node', 'dist/node/adapters/node.js'])
      const status = (await p(['exec', cid, 'cat', '/proc/1/status'])).stdout
      const uid = Number(/^Uid:\s+(\d+)/m.exec(status)![1])
      expect(uid).not.toBe(0)

      await p(['healthcheck', 'run', cid]) // rejects unless the HEALTHCHECK command exits 0

      await p(['stop', '-t', '30', cid], 90_000)
      expect(await exitCode(cid)).toBe(0) // not 137: SIGTERM was handled, no kill after the timeout
      const lines = (await logs(cid)).split('\n')
      expect(lines.some((line) => line.includes('"msg":"shutting down","signal":"SIGTERM"'))).toBe(true)
      expect(lines.some((line) => line.includes('"msg":"stopped"'))).toBe(true)
    } finally {
      data.remove()
    }
  }, 240_000)

  it('refuses to start with the published development secret, saying which variable to set', async () => {
    const cid = await start([])
    await p(['wait', cid], 90_000)
    expect(await exitCode(cid)).toBe(1)
    const output = await logs(cid)
    expect(output).toContain('refusing to listen on 0.0.0.0 with the published development secret')
    expect(output).toContain('MILLICAST_WEBHOOK_SECRET')
  }, 120_000)
})
