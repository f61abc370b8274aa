/**
 * How the `hookcast` command answers (issue 25, items 1 and 3): --help and -h on every command with its usage and
 * no side effect, a bare hookcast with the overall usage, --version, and a mistake named with the valid choices;
 * `send` without --url posting where the gateway of the working directory listens.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { main } from '../../src/cli/main.ts'
import type { Io } from '../../src/cli/io.ts'
import { ROOT, startServer, type RunningServer } from '../support/runtimes.ts'
import { SECRET } from '../support/hooks.ts'
import { listFiles, tempDir } from '../support/files.ts'
import { eventually } from '../support/wait.ts'
import { freePort } from '../support/ports.ts'

const COMMANDS = ['serve', 'deno', 'check', 'send', 'replay', 'schema']

/** The bin as a user runs it, in `cwd`, without the test's PORT, HOST or config variables. */
function hookcast(args: string[], cwd: string, env: Record<string, string> = {}) {
  const { PORT: _port, HOST: _host, HOOKCAST_CONFIG: _config, ...inherited } = process.env
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/hookcast.js'), ...args], {
      cwd,
      env: { ...inherited, PORT: '0', NO_COLOR: '1', ...env },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    // A gateway started by mistake would never exit: stop it, and the test fails on its output.
    const safety = setTimeout(() => child.kill('SIGKILL'), 30_000)
    child.on('exit', (code) => {
      clearTimeout(safety)
      resolve({ code, stdout, stderr })
    })
  })
}

/** `main` in this process, with its output collected. */
async function run(args: string[], env: Record<string, string> = {}) {
  const out: string[] = []
  const err: string[] = []
  const io: Io = { out: (line) => out.push(line), err: (line) => err.push(line), progress: () => {} }
  const code = await main(args, env, io)
  return { code, out: out.join('\n'), err: err.join('\n') }
}

describe('hookcast --help, --version and mistakes', () => {
  const tmp = tempDir('hookcast-usage-')
  afterAll(() => tmp.remove())

  it('a bare hookcast prints the usage listing every command, and starts nothing', async () => {
    writeFileSync(join(tmp.path, 'config.yaml'), readFileSync(join(ROOT, 'config.example.yaml')))
    const bare = await hookcast([], tmp.path)
    expect(bare.code).toBe(0)
    expect(bare.stdout).toMatch(/^usage: hookcast <command>/)
    for (const command of COMMANDS) expect(bare.stdout).toMatch(new RegExp(`^  ${command} `, 'm'))
    expect(bare.stdout + bare.stderr).not.toContain('listening')
    expect(readdirSync(tmp.path)).toEqual(['config.yaml'])
  }, 40_000)

  it('serve --help and -h print its usage and start no gateway; --version prints the version', async () => {
    for (const flag of ['--help', '-h']) {
      const help = await hookcast(['serve', flag], tmp.path)
      expect(help.code).toBe(0)
      expect(help.stdout).toMatch(/^usage: hookcast serve \[--config FILE\]/)
      expect(help.stdout + help.stderr).not.toContain('listening')
    }
    const version = await hookcast(['--version'], tmp.path)
    const { version: expected } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
    expect(version).toMatchObject({ code: 0, stdout: `${expected}\n` })
    const wrong = await hookcast(['serve', '--port', '9'], tmp.path)
    expect(wrong.code).toBe(2)
    expect(wrong.stderr).toContain('hookcast serve: unknown option "--port"; valid options: --config (-c), --help (-h)')
    expect(readdirSync(tmp.path)).toEqual(['config.yaml']) // no spool, no data
  }, 60_000)

  it('npm start -- --help (each runtime entry) prints the serve usage and starts nothing; a wrong option exits 2', async () => {
    const { PORT: _port, HOST: _host, HOOKCAST_CONFIG: _config, ...inherited } = process.env
    const before = readdirSync(tmp.path)
    const bin = (name: string) => join(ROOT, 'node_modules/.bin', name)
    const entries: Record<string, string[]> = {
      node: [process.execPath, join(ROOT, 'dist/node/adapters/node.js')],
      bun: [bin('bun'), join(ROOT, 'adapters/bun.ts')],
      deno: [bin('deno'), 'run', '--no-prompt', '--allow-all', join(ROOT, 'adapters/deno.ts')],
    }
    for (const [runtime, [command, ...args]] of Object.entries(entries)) {
      for (const [flag, code] of [
        ['--help', 0],
        ['--bogus', 2],
      ] as const) {
        const run = spawnSync(command!, [...args, flag], {
          cwd: tmp.path,
          env: { ...inherited, PORT: '0', NO_COLOR: '1' },
          encoding: 'utf8',
          timeout: 60_000,
        })
        expect(run.status, `${runtime} ${flag}: ${run.stderr}`).toBe(code)
        expect(code === 0 ? run.stdout : run.stderr).toMatch(/usage: hookcast serve \[--config FILE\]/)
        if (code === 2) expect(run.stderr).toContain('unknown option "--bogus"')
        expect(run.stdout + run.stderr).not.toContain('listening')
      }
    }
    expect(readdirSync(tmp.path)).toEqual(before) // no spool, no data
  }, 180_000)

  it('every command answers --help and -h with its own usage and nothing else', async () => {
    for (const command of COMMANDS) {
      for (const flag of ['--help', '-h']) {
        // A config whose spool would be created by any command that ran: none may touch it.
        const spool = join(tmp.path, `spool-${command}${flag}`)
        const config = join(tmp.path, 'help.yaml')
        writeFileSync(config, `sources:\n  m: { path: /h, secrets: ["${SECRET}"] }\nspool: { dir: "${spool}" }\n`)
        const { code, out, err } = await run([
          command,
          '--config',
          config,
          '--all',
          flag,
          '--url',
          'http://127.0.0.1:9',
        ])
        expect(code, `${command} ${flag}: ${err}`).toBe(0)
        expect(out).toMatch(new RegExp(`^usage: hookcast ${command}\\b`))
        expect(out).not.toContain('"$schema"') // schema --help prints no schema
        expect(err).toBe('')
        expect(readdirSync(tmp.path)).not.toContain(`spool-${command}${flag}`)
      }
    }
    expect((await run(['help', 'replay'])).out).toMatch(/^usage: hookcast replay/)
  })

  it('an unknown command, option, kind or destination exits 2 and lists the valid ones', async () => {
    const command = await run(['nope'])
    expect(command.code).toBe(2)
    expect(command.err).toContain('unknown command "nope"; valid commands: serve, deno, check, send, replay, schema')
    const option = await run(['check', '--conifg', 'x.yaml'])
    expect(option.code).toBe(2)
    expect(option.err).toContain('hookcast check: unknown option "--conifg"; valid options: --config (-c), --help (-h)')
    const kind = await run(['send', 'feeds-strated'])
    expect(kind.code).toBe(2)
    expect(kind.err).toMatch(/unknown kind "feeds-strated"; valid kinds: thumbnail, feeds-started, feeds-ended, /)
    const value = await run(['replay', '--destination'])
    expect(value.code).toBe(2)
    expect(value.err).toContain('--destination needs a value')

    const config = join(tmp.path, 'replay.yaml')
    const spool = join(tmp.path, 'replay-spool')
    writeFileSync(
      config,
      `sources:\n  m: { path: /h, secrets: ["${SECRET}"] }\nspool: { dir: "${spool}" }\n` +
        `sinks:\n  disk: { type: fs, dir: "${join(tmp.path, 'data')}" }\nnotifiers:\n  hook: { type: http, url: "http://127.0.0.1:9" }\n`,
    )
    const destination = await run(['replay', '--config', config, '--destination', 'nope'])
    expect(destination.code).toBe(2)
    expect(destination.err).toContain('no destination "nope" in the config; valid destinations: disk, hook, @streams')
    expect(readdirSync(tmp.path)).not.toContain('replay-spool')
  })
})

describe('hookcast send without --url', () => {
  const tmp = tempDir('hookcast-send-url-')
  const here = join(tmp.path, 'here')
  const data = join(tmp.path, 'data')
  let server: RunningServer
  let port: number
  beforeAll(async () => {
    port = await freePort()
    const config = (listen: number) =>
      `server: { port: ${listen}, host: 0.0.0.0, allowDevSecret: true }\n` +
      `sources:\n  m: { path: /in/platform, secrets: ["${SECRET}"] }\n` +
      `sinks:\n  disk: { type: fs, dir: "${data}", key: "{event}-{id}.{ext}" }\n` +
      `spool: { dir: "${join(tmp.path, 'spool')}" }\nroutes:\n  - to: [disk]\n`
    for (const dir of ['here', 'elsewhere']) mkdirSync(join(tmp.path, dir))
    writeFileSync(join(here, 'config.yaml'), config(port))
    writeFileSync(join(tmp.path, 'elsewhere', 'config.yaml'), config(await freePort()))
    server = await startServer('node', join(here, 'config.yaml'), { PORT: String(port) })
  }, 40_000)
  afterAll(async () => {
    await server.stop()
    tmp.remove()
  })

  it("posts to the port, host and path of the working directory's config, and PORT wins", async () => {
    const fromConfig = await hookcast(['send', 'feeds-started'], here, { PORT: '' })
    expect(fromConfig.code, fromConfig.stderr).toBe(0)
    expect(fromConfig.stdout).toMatch(/^200 /)
    // The other directory's config names a port nobody listens on: PORT says where the gateway is.
    const fromPort = await hookcast(['send', 'feeds-ended'], join(tmp.path, 'elsewhere'), { PORT: String(port) })
    expect(fromPort.code, fromPort.stderr).toBe(0)
    await eventually(() => listFiles(data).length === 2)
    expect(
      listFiles(data)
        .map((file) => file.split('-')[0])
        .sort(),
    ).toEqual(['ended', 'started'])
  }, 40_000)
})
