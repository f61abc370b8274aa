/**
 * The sign-in limit counts per client address on every runtime: each adapter hands the peer address over. Clients
 * are told apart by connecting from different loopback addresses (127.0.0.2, 127.0.0.3, 127.0.0.4).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request as httpRequest, type RequestOptions } from 'node:http'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { RUNTIMES, startServer, type RunningServer, type Runtime } from '../support/runtimes.ts'
import { SECRET } from '../support/hooks.ts'
import { tempDir } from '../support/files.ts'

const TOKEN = 'admin-limits-test-token'

/** GET `path` with a bearer token, from the local address `from`. */
function getFrom(server: RunningServer, from: string, path: string, token: string): Promise<number> {
  return requestFrom(server, from, path, { headers: { authorization: `Bearer ${token}` } })
}

/** The sign-in form's POST of `token`, from the local address `from`. */
function signInFrom(server: RunningServer, from: string, token: string): Promise<number> {
  const body = new URLSearchParams({ token }).toString()
  const headers = { 'content-type': 'application/x-www-form-urlencoded' }
  return requestFrom(server, from, '/login', { method: 'POST', headers }, body)
}

function requestFrom(server: RunningServer, from: string, path: string, options: RequestOptions, body?: string) {
  const url = new URL(path, server.url)
  const where = { host: url.hostname, port: url.port, path: url.pathname, localAddress: from, agent: false }
  return new Promise<number>((resolve, reject) => {
    const req = httpRequest({ ...options, ...where }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode!))
    })
    req.on('error', reject)
    req.end(body)
  })
}

describe.each<Runtime>(RUNTIMES)('admin failure limit on %s', (runtime) => {
  const tmp = tempDir(`hookcast-admin-limits-${runtime}-`)
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

  it('blocks the address that guessed, not the others', async () => {
    for (let i = 0; i < 10; i++)
      expect(await getFrom(server, '127.0.0.2', '/api/status', 'wrong-token-guess')).toBe(401)
    expect(await getFrom(server, '127.0.0.2', '/api/status', TOKEN)).toBe(429)
    expect(await getFrom(server, '127.0.0.3', '/api/status', TOKEN)).toBe(200)
  })

  it('holds against concurrent wrong tokens: 10 answered 401, the rest 429', async () => {
    const guess = () => signInFrom(server, '127.0.0.4', 'wrong-token-guess')
    const statuses = await Promise.all(Array.from({ length: 60 }, guess))
    expect(statuses.filter((status) => status === 401)).toHaveLength(10)
    expect(statuses.filter((status) => status === 429)).toHaveLength(50)
  })
})
