/**
 * `hookcast deno`: runs the gateway on Deno with the permissions the config needs and no more: writes to exactly
 * the folders it names, reads of those, the config and the code, the network hosts it names, the environment, the OS
 * release (AWS SDK) and sharp's native addon. `--print` prints the command instead, for a service unit or a script.
 * @module
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import process from 'node:process'
import type { Config } from '../config/config-schema.ts'
import type { Env } from '../config/interpolate.ts'
import { listenAddress } from '../config/listen.ts'
import { loadConfig, resolveConfigPath } from '../config/load.ts'
import { allowWriteFlag, outermost, readPaths, writtenFolders } from '../config/folders.ts'
import { netHosts, type NetHosts } from '../config/hosts.ts'
import { parseCommand } from './args.ts'
import type { Io } from './io.ts'
import { packageRoot } from './package-root.ts'

export const DENO_SPEC = {
  name: 'deno',
  usage: `usage: hookcast deno [--config FILE] [--print]

Runs the gateway on Deno (adapters/deno.ts), allowed to write exactly the folders the config names (spool.dir,
streams.dir, every fs sink's dir), to read those, the config, NATS credential files and hookcast's own files, and to
reach exactly the hosts it names (where it listens, HTTP and Slack destinations, NATS servers); with Amazon S3 or
Google Cloud Storage, the whole network and every file, since their SDKs reach hosts and read credential files the
config does not name. Besides: the environment, the OS release and sharp's native addon.
  --config, -c FILE  the config; default as for hookcast serve
  --print            print the deno command instead of running it
Deno is node_modules/.bin/deno when installed beside hookcast (npm i -D deno), else deno on the PATH.`,
  options: { config: { type: 'string', short: 'c' }, print: { type: 'boolean' } },
} as const

export async function denoCommand(args: readonly string[], env: Env, io: Io): Promise<number> {
  const { values } = parseCommand(DENO_SPEC, args)
  const path = resolveConfigPath(values.config ? ['--config', values.config] : [], env)
  const { config } = await loadConfig(path, env) // a bad config is reported here, before Deno starts
  const net = netHosts(config, listenAddress(config, env).host)
  if ('anyHost' in net) io.err(`hookcast deno: allowing every file and the whole network (${net.anyHost})`)
  const command = denoCommandLine(config, path === undefined ? undefined : resolve(path), net)
  if (!values.print) return run(command)
  io.out(command.map(shellWord).join(' '))
  return 0
}

/** `deno run` with the config's permissions, then the adapter and its `--config`. */
function denoCommandLine(config: Config, configPath: string | undefined, net: NetHosts): string[] {
  const root = packageRoot().dir
  const local = join(root, 'node_modules', '.bin', 'deno')
  const sharp = sharpBinaries(root)
  const reads = readPaths(config, configPath)
  // Besides the config's own: the code (admin page files), sharp's packages, /proc (is a spool lock's owner
  // alive?) and /usr/bin/ldd (sharp tells glibc from musl by it).
  const read = reads && [root, dirname(sharp), '/proc', '/usr/bin/ldd', ...reads]
  return [
    existsSync(local) ? local : 'deno',
    'run',
    '--no-prompt',
    'anyHost' in net ? '--allow-net' : `--allow-net=${net.hosts.join(',')}`,
    '--allow-env',
    read ? `--allow-read=${outermost(read).join(',')}` : '--allow-read',
    allowWriteFlag(writtenFolders(config)),
    '--allow-sys=osRelease',
    `--allow-ffi=${sharp}`,
    join(root, 'adapters', 'deno.ts'),
    ...(configPath === undefined ? [] : ['--config', configPath]),
  ]
}

/** Where sharp's native addon and libvips are: the `@img` folder beside sharp, wherever npm put it. */
function sharpBinaries(root: string): string {
  try {
    const sharp = createRequire(join(root, 'package.json')).resolve('sharp/package.json')
    return join(dirname(dirname(sharp)), '@img')
  } catch {
    return join(root, 'node_modules', '@img')
  }
}

/**
 * Runs Deno in its own process group, so a Ctrl-C reaches it once, through the signal this process forwards (a
 * second signal forces its exit); resolves with its exit status.
 */
function run([command, ...args]: string[]): Promise<number> {
  return new Promise((done) => {
    const child = spawn(command!, args, { stdio: 'inherit', detached: true })
    const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const
    const forward = (signal: NodeJS.Signals) => child.kill(signal)
    for (const signal of signals) process.on(signal, forward)
    const finish = (code: number) => {
      for (const signal of signals) process.off(signal, forward)
      done(code)
    }
    child.once('error', (error: NodeJS.ErrnoException) => {
      console.error(
        error.code === 'ENOENT'
          ? `hookcast deno: no deno here: npm i -D deno (or install it from https://deno.com and put it on the PATH)`
          : `hookcast deno: cannot start deno: ${error.message}`,
      )
      finish(1)
    })
    child.once('exit', (code, signal) => finish(code ?? (signal === 'SIGINT' ? 130 : 143)))
  })
}

/** A word as a POSIX shell reads it back unchanged. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`
}
