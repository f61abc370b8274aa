/**
 * The container image, built from the unmodified Dockerfile with podman and run as an operator would: signed hooks
 * land on the mounted /data volume, the process is not root, the HEALTHCHECK passes, `podman stop` drains and exits
 * 0, and the development secret refuses to start rather than listen where nobody reaches it. Then compose.yaml's
 * gateways for real: two containers with its config on one NATS server (Debian's nats-server; nats and caddy images
 * cannot be pulled here), sharing the queue and the /data volume.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs'
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
const NATS_SERVER = ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((path) => existsSync(path))
const SECRET = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64')
const missing = await podmanMissing()

describe('the container image (podman)', skipWhen(missing), () => {
  let p: Podman
  const containers: string[] = []
  const networks: string[] = []

  beforeAll(async () => {
    p = await podman(ROOT)
    // The first build runs npm ci in the build stage (minutes); later ones reuse its layers.
    await p(['build', '--format', 'docker', ...p.buildArgs, '-t', IMAGE, ROOT], 1_500_000)
  }, 1_800_000)
  afterAll(async () => {
    for (const id of containers) await p(['rm', '-f', '-v', id]).catch(() => {})
    for (const name of networks) await p(['network', 'rm', name]).catch(() => {})
  })

  /** Starts the image detached with `args` before it and `command` after; returns the container id. */
  const start = async (args: readonly string[], command: readonly string[] = []): Promise<string> => {
    const { stdout } = await p(['run', '-d', ...args, IMAGE, ...command])
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
    const data = dataFolder()
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

  it("two gateways with compose.yaml's config share one NATS server: a hook lands once whichever gets it, and one " +
    'stopping drains while the other takes hooks', {
    ...skipWhen(!NATS_SERVER && 'nats-server is not installed (.ci/run installs it)'),
    timeout: 240_000,
  }, async () => {
    const data = dataFolder()
    try {
      // compose.yaml's topology on a network of its own: NATS as `nats` (Debian's binary in the image, with the
      // compose nats.conf), the gateways with deploy/compose/hookcast.yaml at /app/config.yaml and one /data.
      const network = `hookcast-test-${process.pid}`
      await p(['network', 'create', network])
      networks.push(network)
      const nats = await start(
        ['--network', network, '--network-alias', 'nats', '-v', `${NATS_SERVER}:/usr/local/bin/nats-server:ro`].concat([
          '-v',
          `${join(ROOT, 'deploy/compose/nats.conf')}:/etc/nats/nats.conf:ro`,
        ]),
        ['nats-server', '--config', '/etc/nats/nats.conf'],
      )
      await eventually(async () => (await logs(nats)).includes('Server is ready'), 60_000, 250)
      const gateways: { id: string; url: string }[] = []
      for (let i = 0; i < 2; i++) {
        const port = await freePort()
        const id = await start([
          ...['--network', network, '-p', `127.0.0.1:${port}:8080`, '-e', `MILLICAST_WEBHOOK_SECRET=${SECRET}`],
          ...['-v', `${join(ROOT, 'deploy/compose/hookcast.yaml')}:/app/config.yaml:ro`, '-v', `${data.path}:/data`],
        ])
        gateways.push({ id, url: `http://127.0.0.1:${port}/hooks/millicast` })
      }
      for (const { url } of gateways) {
        await eventually(async () => (await fetchOnce(url.replace('/hooks/millicast', '/readyz'))).ok, 60_000, 250)
      }
      const [one, two] = gateways as [(typeof gateways)[0], (typeof gateways)[0]]

      // Distinct thumbnails to either gateway, and one hook sent to both (the platform never does; a proxy
      // retrying might): the shared queue keeps it once.
      const thumbnails = await Promise.all(
        [0, 1, 2, 3].map((n) => signedThumbnail({ secret: SECRET, feedId: `f${n}` })),
      )
      for (const [n, hook] of thumbnails.entries()) {
        expect((await post((n % 2 ? two : one).url, hook)).status).toBe(200)
      }
      const twice = await signedJson(PAYLOADS.feedsStarted, SECRET)
      for (const { url } of gateways) expect((await post(url, twice)).status).toBe(200)
      await eventually(() => listFiles(data.path).length === 5, 30_000)

      await p(['stop', '-t', '30', one.id], 90_000)
      expect(await exitCode(one.id)).toBe(0)
      expect(await logs(one.id)).toContain('"msg":"stopped"')
      expect((await post(two.url, await signedJson(PAYLOADS.feedsEnded, SECRET))).status).toBe(200)
      const files = await eventually(() => {
        const found = listFiles(data.path)
        return found.length === 6 && found
      }, 30_000)
      expect(files.filter((file) => file.startsWith('thumbnail/'))).toHaveLength(4)
      expect(files.filter((file) => file.startsWith('feeds/'))).toHaveLength(2)
    } finally {
      data.remove()
    }
  })

  it('refuses to start with the published development secret, saying which variable to set', async () => {
    const cid = await start([])
    await p(['wait', cid], 90_000)
    expect(await exitCode(cid)).toBe(1)
    const output = await logs(cid)
    expect(output).toContain('refusing to listen on 0.0.0.0 with the published development secret')
    expect(output).toContain('MILLICAST_WEBHOOK_SECRET')
  }, 120_000)
})

/** A folder the image's user (uid 1000) can write, mounted as /data. */
function dataFolder() {
  const data = tempDir('hookcast-image-data-')
  chmodSync(data.path, 0o777)
  return data
}
