/**
 * Deno with folders outside ./data and ./spool (issue 25, item 2), on a real Deno: a start with start:deno's flags
 * refuses such a config up front, naming the flag to add (no stack trace, no gateway that then fails every
 * delivery); `hookcast deno` grants exactly the config's folders and hosts and serves; `hookcast check` shows them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { onOutputLines, ROOT } from '../support/runtimes.ts'
import { FRAME, PAYLOADS, post, SECRET, signedJson, signedThumbnail } from '../support/hooks.ts'
import { listFiles, tempDir } from '../support/files.ts'
import { startReceiver, type Receiver } from '../support/receiver.ts'
import { eventually } from '../support/wait.ts'

interface Run {
  code: number | null
  output: string
}

/** Runs `command` in `cwd` until it exits (killed after 60 s: a gateway that should not have started fails). */
function runToExit(command: string[], cwd: string): Promise<Run> {
  const [program, ...args] = command
  const { HOST: _host, HOOKCAST_CONFIG: _config, ...inherited } = process.env
  const child = spawn(program!, args, { cwd, env: { ...inherited, PORT: '0', HOST: '127.0.0.1', NO_COLOR: '1' } })
  const lines: string[] = []
  onOutputLines(child, (line) => lines.push(line))
  const safety = setTimeout(() => child.kill('SIGKILL'), 60_000)
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(safety)
      resolve({ code, output: lines.join('\n') })
    }),
  )
}

/** `hookcast deno ARGS` in `cwd`: the address it listens on, what it printed, and its exit. */
function hookcastDeno(args: string[], cwd: string) {
  const { HOST: _host, HOOKCAST_CONFIG: _config, ...inherited } = process.env
  const child = spawn(process.execPath, [join(ROOT, 'bin/hookcast.js'), 'deno', ...args], {
    cwd,
    env: { ...inherited, PORT: '0', HOST: '127.0.0.1', NO_COLOR: '1' },
  })
  const lines: string[] = []
  onOutputLines(child, (line) => lines.push(line))
  const output = () => lines.join('\n')
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  const url = Promise.race([
    eventually(() => /"msg":"listening","url":"([^"]+)"/.exec(output())?.[1], 60_000),
    exited.then((code) => Promise.reject(new Error(`exited with ${code} before listening:\n${output()}`))),
  ])
  return { process: child, url, exited, output }
}

describe('Deno and folders outside ./data and ./spool', () => {
  const tmp = tempDir('hookcast-deno-folders-')
  const outside = join(tmp.path, 'outside')
  const spool = join(outside, 'spool')
  const data = join(outside, 'data')
  const config = join(tmp.path, 'config.yaml')
  let receiver: Receiver
  beforeAll(async () => {
    receiver = await startReceiver()
    writeFileSync(
      config,
      `
sources:
  millicast: { path: /hooks/millicast, secrets: ["${SECRET}"] }
sinks:
  disk: { type: fs, dir: "${data}", key: "{type}/{event}-{id}.{ext}" }
notifiers:
  forward: { type: http, url: "${receiver.url}/in" }
spool: { dir: "${spool}" }
routes:
  - to: [disk, forward]
`,
    )
  })
  afterAll(async () => {
    await receiver.close()
    tmp.remove()
  })

  it("a start with start:deno's flags stops at once, naming each folder and the exact flag to add", async () => {
    const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>
    }
    const [, ...flags] = scripts['start:deno']!.split(/\s+/)
    const { code, output } = await runToExit([join(ROOT, 'node_modules/.bin/deno'), ...flags, '--config', config], ROOT)
    expect(code, output).toBe(1)
    expect(output).toContain('cannot start: Deno may not write to folders the config names:')
    expect(output).toContain(`  spool.dir: ${spool}\n  sinks.disk.dir: ${data}\n`)
    expect(output).toContain(`  --allow-write=${spool},${data}\n`)
    expect(output).not.toMatch(/NotCapable|^\s+at /m) // no stack trace
    expect(output).not.toContain('listening')
    expect(existsSync(outside)).toBe(false)
  }, 90_000)

  it('hookcast deno --print grants exactly the folders and hosts the config names', async () => {
    const print = join(tmp.path, 'print.yaml')
    const notifiers = `
notifiers:
  forward: { type: http, url: "${receiver.url}/in" }
  partner: { type: http, url: "https://hooks.example.com:8443/platform" }
  chat: { type: slack, token: xoxb-test, channel: C1 }
`
    writeFileSync(print, readFileSync(config, 'utf8').replace(/\nnotifiers:\n.*\n/, notifiers))
    const { code, output } = await runToExit(
      [process.execPath, join(ROOT, 'bin/hookcast.js'), 'deno', '--config', print, '--print'],
      tmp.path,
    )
    expect(code, output).toBe(0)
    const words = output.trim().split(' ')
    expect(words.filter((word) => word.startsWith('--')).sort()).toEqual(
      [
        `--allow-ffi=${join(ROOT, 'node_modules/@img')}`,
        '--allow-env',
        // Where it listens (HOST), the HTTP notifiers, and Slack's API and file uploads (bot mode).
        '--allow-net=127.0.0.1,hooks.example.com:8443,slack.com,files.slack.com',
        `--allow-read=${ROOT.replace(/\/$/, '')},/proc,/usr/bin/ldd,${print},${spool},${data}`,
        '--allow-sys=osRelease',
        `--allow-write=${spool},${data}`,
        '--config',
        '--no-prompt',
      ].sort(),
    )
    expect(words.slice(-3)).toEqual([join(ROOT, 'adapters/deno.ts'), '--config', print])
  }, 60_000)

  it('hookcast deno serves with them: the hook is stored outside ./data and forwarded; SIGTERM stops Deno', async () => {
    const deno = hookcastDeno(['--config', config], tmp.path)
    try {
      const url = await deno.url
      const response = await post(`${url}/hooks/millicast`, await signedJson(PAYLOADS.feedsStarted))
      expect(response.status).toBe(200)
      // With reads scoped too: the stream store keeps the thumbnail, and the login page reads its files.
      expect((await post(`${url}/hooks/millicast`, await signedThumbnail({ body: FRAME }))).status).toBe(200)
      expect((await fetch(`${url}/login`)).status).toBe(200)
      await eventually(() => listFiles(data).some((file) => file.startsWith('feeds/started-')), 30_000)
      await eventually(() => listFiles(data).some((file) => file.startsWith('thumbnail/')), 30_000)
      await eventually(() => receiver.requests.some((request) => request.path === '/in'), 30_000)
      expect(deno.output()).not.toMatch(/delivery failed|NotCapable|Requires \w+ access/)
    } finally {
      deno.process.kill('SIGTERM')
    }
    expect(await deno.exited).toBe(0)
    expect(deno.output()).toContain('"msg":"stopped"') // Deno got the signal and drained
  }, 120_000)

  it('hookcast deno starts with no config file at all (the built-in default)', async () => {
    const empty = join(tmp.path, 'empty')
    mkdirSync(empty)
    const deno = hookcastDeno([], empty)
    try {
      await deno.url
      expect(deno.output()).toContain('"config":"(embedded default)"')
    } finally {
      deno.process.kill('SIGTERM')
    }
    expect(await deno.exited).toBe(0)
  }, 120_000)

  it('hookcast check lists the folders the gateway writes, with the flag Deno needs', async () => {
    const { code, output } = await runToExit(
      [process.execPath, join(ROOT, 'bin/hookcast.js'), 'check', '--config', config],
      tmp.path,
    )
    expect(code, output).toBe(0)
    expect(output).toContain(`folders (Deno needs --allow-write=${spool},${data}; hookcast deno grants exactly that)`)
    expect(output).toMatch(new RegExp(`spool\\.dir\\s+${spool}\\s+writable`))
    expect(output).toMatch(new RegExp(`sinks\\.disk\\.dir\\s+${data}\\s+writable`))
  }, 60_000)
})
