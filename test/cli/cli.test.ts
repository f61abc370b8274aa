/**
 * The `hookcast` command, spawned as a user would run it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT, startServer, type RunningServer } from '../support/runtimes.ts'
import { startReceiver, type Receiver } from '../support/receiver.ts'
import { FRAME, SECRET } from '../support/hooks.ts'
import { listFiles, tempDir } from '../support/files.ts'
import { eventually } from '../support/wait.ts'
import { freePort } from '../support/ports.ts'

function hookcast(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/hookcast.js', ...args], { cwd: ROOT, env: { ...process.env, ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.on('exit', (code) => resolve({ code, stdout, stderr }))
  })
}

/**
 * `hookcast serve` in `cwd`: resolves with the address it listened on (then stops it), or with its exit code and
 * output when it refused to start. Killed after 30 s so a hang fails the test instead of stalling it.
 */
function serveIn(
  cwd: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ url?: string; code: number | null; output: string }> {
  const { HOST: _host, MILLICAST_WEBHOOK_SECRET: _secret, ...inherited } = process.env
  const child = spawn(process.execPath, [join(ROOT, 'bin/hookcast.js'), 'serve', ...args], {
    cwd,
    env: { ...inherited, PORT: '0', NO_COLOR: '1', ...env },
  })
  return new Promise((resolve) => {
    let output = ''
    const safety = setTimeout(() => child.kill('SIGKILL'), 30_000)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const url = /"msg":"listening","url":"([^"]+)"/.exec(output)?.[1]
      if (url) {
        child.once('exit', () => resolve({ url, code: null, output }))
        child.kill('SIGTERM')
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.once('exit', (code) => {
      clearTimeout(safety)
      if (!/"msg":"listening"/.test(output)) resolve({ code, output })
    })
  })
}

describe('the development secret', () => {
  const tmp = tempDir('hookcast-dev-secret-')
  afterAll(() => tmp.remove())
  const publicConfig = (host: string, extra = '') => {
    const path = join(tmp.path, `public-${host.replace(/\W/g, '')}${extra ? '-allowed' : ''}.yaml`)
    writeFileSync(
      path,
      `
server: { host: "${host}"${extra} }
sources:
  millicast: { path: /hooks/millicast, secrets: ["\${MILLICAST_WEBHOOK_SECRET:-${SECRET}}"] }
spool: { dir: "${join(tmp.path, 'spool')}" }
`,
    )
    return path
  }

  it('out of the box (the example config, no secret set) serves on loopback only', async () => {
    copyFileSync(join(ROOT, 'config.example.yaml'), join(tmp.path, 'config.example.yaml'))
    const started = await serveIn(tmp.path, [], {})
    expect(started.url, started.output).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(started.output).toContain('development signing secret')
  }, 40_000)

  it('is refused on a non-loopback address unless allowed, by serve and by check', async () => {
    const refused = await serveIn(tmp.path, ['--config', publicConfig('0.0.0.0')], {})
    expect(refused.url).toBeUndefined()
    expect(refused.code).toBe(1)
    expect(refused.output).toContain('refusing to listen on 0.0.0.0 with the published development secret')
    const viaEnv = await hookcast(['check', '--config', publicConfig('127.0.0.1')], { HOST: '0.0.0.0' })
    expect(viaEnv.code).toBe(1)
    expect(viaEnv.stderr).toContain('problem: refusing to listen on 0.0.0.0 with the published development secret')
    expect(viaEnv.stdout).not.toContain('all checks passed')

    const allowed = await hookcast(['check', '--config', publicConfig('0.0.0.0', ', allowDevSecret: true')])
    expect(allowed.code).toBe(0)
    expect(allowed.stdout).toContain('warning: source millicast uses the development secret')
    const real = await hookcast(['check', '--config', publicConfig('0.0.0.0')], {
      MILLICAST_WEBHOOK_SECRET: btoa('the-webhook-s-own-32-byte-secret'),
    })
    expect(real.code).toBe(0)
  }, 60_000)
})

describe('hookcast schema', () => {
  it('prints the JSON Schema of the config, and config.schema.json is current', async () => {
    const { code, stdout } = await hookcast(['schema'])
    expect(code).toBe(0)
    const schema = JSON.parse(stdout) as { properties: Record<string, unknown> }
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining(['server', 'sources', 'sinks', 'notifiers', 'routes', 'spool', 'delivery']),
    )
    // Regenerate with: node bin/hookcast.js schema > config.schema.json
    expect(JSON.parse(readFileSync(join(ROOT, 'config.schema.json'), 'utf8'))).toEqual(schema)
  })
})

describe('hookcast check', () => {
  const tmp = tempDir('hookcast-check-')
  let receiver: Receiver
  beforeAll(async () => {
    receiver = await startReceiver()
  })
  afterAll(async () => {
    await receiver.close()
    tmp.remove()
  })

  it('lists sources, routes and destinations and passes a good config', async () => {
    const config = join(tmp.path, 'good.yaml')
    writeFileSync(
      config,
      `
sources:
  millicast: { path: /hooks/millicast, secrets: ["\${SECRET}"] }
sinks:
  disk: { type: fs, dir: "${join(tmp.path, 'data')}" }
notifiers:
  forward: { type: http, url: "${receiver.url}/in" }
spool: { dir: "${join(tmp.path, 'spool')}" }
routes:
  - when: { type: thumbnail, stream: "ZG6NWV/*" }
    to: [disk, forward]
`,
    )
    const { code, stdout } = await hookcast(['check', '--config', config], { SECRET: btoa('production-secret') })
    expect(code).toBe(0)
    expect(stdout).toMatch(/millicast\s+\/hooks\/millicast\s+1/)
    expect(stdout).toMatch(/1\s+type=thumbnail stream=ZG6NWV\/\*\s+disk, forward/)
    expect(stdout).toMatch(/disk\s+fs\s+\S+data\s+ok/)
    expect(stdout).toMatch(/forward\s+http\s+http:\/\/127\.0\.0\.1:\d+\s+ok/)
    expect(stdout).toContain('all checks passed')
    expect(receiver.requests).toEqual([]) // nothing was sent
  })

  it('names every missing variable at once', async () => {
    const config = join(tmp.path, 'env.yaml')
    writeFileSync(
      config,
      `
sources:
  millicast: { path: /hooks/millicast, secrets: ["\${SECRET_A}", "\${SECRET_B}"] }
notifiers:
  slack: { type: slack, token: "\${SLACK_TOKEN}", channel: C1 }
`,
    )
    const { code, stderr } = await hookcast(['check', '--config', config])
    expect(code).toBe(1)
    for (const name of ['SECRET_A', 'SECRET_B', 'SLACK_TOKEN'])
      expect(stderr).toContain(`environment variable ${name} is not set`)
  })

  it('finds unreachable and misconfigured destinations without sending', async () => {
    const config = join(tmp.path, 'bad.yaml')
    const closed = await freePort()
    writeFileSync(join(tmp.path, 'blocker'), 'a file where a directory should be')
    writeFileSync(
      config,
      `
sources:
  millicast: { path: /hooks/millicast, secrets: ["${SECRET}"] }
sinks:
  disk: { type: fs, dir: "${join(tmp.path, 'blocker', 'data')}" }
notifiers:
  gone: { type: http, url: "http://127.0.0.1:${closed}/in" }
  slack: { type: slack, token: xoxb-wrong, channel: C1, apiUrl: "${receiver.url}/api" }
spool: { dir: "${join(tmp.path, 'spool2')}" }
routes:
  - to: [disk, gone, slack]
`,
    )
    receiver.answer = () => ({ body: JSON.stringify({ ok: false, error: 'invalid_auth' }) })
    const { code, stdout, stderr } = await hookcast(['check', '--config', config])
    receiver.answer = () => ({})
    expect(code).toBe(1)
    expect(stderr).toMatch(/problem: disk: cannot write to .*blocker/)
    expect(stderr).toMatch(/problem: gone: cannot connect to 127\.0\.0\.1:\d+/)
    expect(stderr).toContain('problem: slack: slack auth.test: invalid_auth: the bot token is not valid')
    expect(stdout).toContain('warning: source millicast uses the development secret')
    expect(stdout).toContain('slack: no route sends it stream events')
    expect(stdout).toContain('3 problems found')
    expect(receiver.requests.map((r) => r.path)).toEqual(['/api/auth.test'])
  })

  it("says which key template can give names a sink's file system refuses (issue 20, item 3)", async () => {
    const config = join(tmp.path, 'deep.yaml')
    // A dir the system takes, under which the longest keys the template can give make paths past its 4,095 bytes.
    const deep = join(tmp.path, ...Array.from({ length: 15 }, () => 'd'.repeat(250)))
    writeFileSync(
      config,
      `
sources:
  millicast: { path: /hooks/millicast, secrets: ["${SECRET}"] }
sinks:
  disk: { type: fs, dir: "${deep}", key: "{type}/{accountId}-{streamName}/{id}.{ext}" }
spool: { dir: "${join(tmp.path, 'spool3')}" }
routes:
  - to: [disk]
`,
    )
    const { code, stderr } = await hookcast(['check', '--config', config])
    expect(code).toBe(1)
    expect(stderr).toMatch(
      /problem: disk: keys of "\{type\}\/\{accountId\}-\{streamName\}\/\{id\}\.\{ext\}" can be \d+ bytes with names of 255, and \S+ refuses them \(ENAMETOOLONG\)/,
    )
  })
})

describe('hookcast send', () => {
  const tmp = tempDir('hookcast-send-')
  let server: RunningServer
  const data = join(tmp.path, 'data')
  beforeAll(async () => {
    const config = join(tmp.path, 'config.yaml')
    writeFileSync(
      config,
      `
sources:
  millicast: { path: /hooks/millicast, secrets: ["${SECRET}"] }
sinks:
  disk: { type: fs, dir: "${data}", key: "{type}/{streamId}/{event}.{ext}" }
spool: { dir: "${join(tmp.path, 'spool')}" }
routes:
  - to: [disk]
`,
    )
    server = await startServer('node', config)
  }, 40_000)
  afterAll(async () => {
    await server.stop()
    tmp.remove()
  })

  it('signs and sends every kind the gateway accepts', async () => {
    const url = `${server.url}/hooks/millicast`
    const kinds = [
      'feeds-started',
      'thumbnail',
      'recording-completed',
      'media-completed',
      'transcoder-active',
      'viewer-attempt',
      'feeds-ended',
    ]
    for (const kind of kinds) {
      const { code, stdout } = await hookcast([
        'send',
        kind,
        '--url',
        url,
        '--secret',
        SECRET,
        '--stream',
        'ACME/lobby',
      ])
      expect(code, `${kind}: ${stdout}`).toBe(0)
      expect(stdout).toMatch(/^200 \{"ok":true/)
    }
    await eventually(() => listFiles(data).length === kinds.length)
    expect(listFiles(data)).toEqual(
      expect.arrayContaining([
        'feeds/ACME/lobby/started.json',
        'feeds/ACME/lobby/ended.json',
        'thumbnail/ACME/lobby/thumbnail.jpg',
        'media/ACME/lobby/completed.json',
      ]),
    )
    expect(readFileSync(join(data, 'thumbnail/ACME/lobby/thumbnail.jpg')).equals(Buffer.from(FRAME))).toBe(true)
    const started = JSON.parse(readFileSync(join(data, 'feeds/ACME/lobby/started.json'), 'utf8')) as {
      data: { feedId: string }
    }
    const ended = JSON.parse(readFileSync(join(data, 'feeds/ACME/lobby/ended.json'), 'utf8')) as {
      data: { feedId: string }
    }
    expect(started.data.feedId).toBe(ended.data.feedId) // one stream, one feed
  })

  it('sends a given JPEG file, and reports a refusal with exit 1', async () => {
    const file = join(tmp.path, 'frame.jpg')
    writeFileSync(file, FRAME)
    const url = `${server.url}/hooks/millicast`
    expect(
      (
        await hookcast([
          'send',
          'thumbnail',
          '--url',
          url,
          '--secret',
          SECRET,
          '--file',
          file,
          '--stream',
          'ACME/other',
        ])
      ).code,
    ).toBe(0)
    const wrong = await hookcast(['send', 'feeds-started', '--url', url, '--secret', btoa('wrong')])
    expect(wrong.code).toBe(1)
    expect(wrong.stdout).toMatch(/^401 .*bad_signature/)
    const unknown = await hookcast(['send', 'nonsense', '--url', url, '--secret', SECRET])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('unknown kind "nonsense"')
  })
})
