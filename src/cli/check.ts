/**
 * `hookcast check`: validates a config, shows what it wires together, and finds what it can without sending
 * anything: missing environment variables, destinations that cannot be reached or refuse the credentials, a spool
 * that cannot be written, alerts no route feeds.
 * @module
 */
import { constants } from 'node:fs'
import { access, stat } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import type { Env } from '../config/interpolate.ts'
import type { Config, RouteConfig } from '../config/config-schema.ts'
import { isDevSecret, isLoopback, listenAddress } from '../config/listen.ts'
import { adminAccess } from '../config/admin-access.ts'
import { allowWriteFlag, writtenFolders } from '../config/folders.ts'
import { createDestinations } from '../gateway.ts'
import { chooseBackend } from '../backends/registry.ts'
import { memoryStreamStore } from '../streams/memory-stream-store.ts'
import { silentLogger } from '../log.ts'
import { table } from './table.ts'
import { loadConfigOption, type Io } from './io.ts'
import { parseCommand } from './args.ts'

export const CHECK_SPEC = {
  name: 'check',
  usage: `usage: hookcast check [--config FILE]

Validates the config and checks what can be checked without sending anything: missing environment variables, the
folders the gateway writes, destinations that cannot be reached or refuse the credentials, the spool, who can reach
the admin page and /metrics. Exit status 1 on a problem.
  --config, -c FILE  the config; default: $HOOKCAST_CONFIG, else ./config.yaml, else ./config.example.yaml`,
  options: { config: { type: 'string', short: 'c' } },
} as const

export async function checkCommand(args: readonly string[], env: Env, io: Io): Promise<number> {
  const { values } = parseCommand(CHECK_SPEC, args)
  const { config, origin } = await loadConfigOption(values.config, env)
  io.out(`config ${origin}: valid`)
  const listen = listenAddress(config, env)
  const found: Findings = { config, io, host: listen.host, problems: [], warnings: [] }
  io.out(`listen ${listen.host}:${env.PORT || config.server.port}`)
  if (listen.refusal) found.problems.push(listen.refusal)

  showSources(found)
  showRoutes(found)
  await checkDestinations(found)
  const spool = await (await chooseBackend(config.spool)).check(config)
  io.out(`\n${spool.summary}`)
  found.problems.push(...spool.problems)
  await showFolders(found)
  showAccess(found)

  const { problems } = found
  for (const warning of found.warnings) io.out(`warning: ${warning}`)
  for (const problem of problems) io.err(`problem: ${problem}`)
  io.out(
    problems.length === 0
      ? '\nall checks passed'
      : `\n${problems.length} problem${problems.length === 1 ? '' : 's'} found`,
  )
  return problems.length === 0 ? 0 : 1
}

/** What the sections of `check` share: the config, where they print, and what they found. */
interface Findings {
  config: Config
  io: Io
  /** The address the gateway would listen on. */
  host: string
  /** Make `check` fail. */
  problems: string[]
  warnings: string[]
}

function showSources({ config, io, warnings }: Findings): void {
  io.out('\nsources')
  const rows = Object.entries(config.sources).map(([name, source]) => {
    const dev = source.secrets.some(isDevSecret)
    if (dev) warnings.push(`source ${name} uses the development secret: set MILLICAST_WEBHOOK_SECRET for real traffic`)
    return [name, source.path, `${source.secrets.length}${dev ? ' (development secret)' : ''}`]
  })
  for (const line of table(['NAME', 'PATH', 'SECRETS'], rows)) io.out(line)
}

function showRoutes({ config, io, warnings }: Findings): void {
  io.out('\nroutes')
  const rows = config.routes.map((route, i) => [String(i + 1), describeWhen(route), route.to.join(', ')])
  for (const line of table(['#', 'WHEN', 'TO'], rows)) io.out(line)
  if (config.routes.length === 0) warnings.push('no routes: events are verified and dropped')
}

/** Each destination's own check (reachable, credentials taken), and destinations that nothing feeds. */
async function checkDestinations({ config, io, problems, warnings }: Findings): Promise<void> {
  io.out('\ndestinations')
  // Destinations are built as the gateway builds them; Slack's needs a stream store, a throwaway one here.
  const streams = memoryStreamStore()
  const destinations = createDestinations(config, {
    streams,
    thumbnailUrl: async () => '',
    log: silentLogger,
    now: Date.now,
  })
  const rows: string[][] = []
  for (const [name, destination] of destinations) {
    const problem = await destination.check?.().catch((error: Error) => error.message)
    if (problem) problems.push(`${name}: ${problem}`)
    rows.push([
      name,
      typeOf(config, name),
      whereOf(config, name),
      problem ? 'PROBLEM' : destination.check ? 'ok' : 'not checked',
    ])
    await destination.close?.()
  }
  for (const line of table(['NAME', 'TYPE', 'WHERE', 'CHECK'], rows)) io.out(line)
  warnings.push(...unusedDestinations(config))
}

/**
 * The folders the gateway writes, whether this user may write them, and the `--allow-write` Deno needs for them.
 * Tried without creating anything; the spool's and the fs sinks' own checks above report theirs as problems.
 */
async function showFolders({ config, io, problems }: Findings): Promise<void> {
  const folders = writtenFolders(config)
  if (folders.length === 0) return
  io.out(`\nfolders (Deno needs ${allowWriteFlag(folders)}; hookcast deno grants exactly that)`)
  const rows: string[][] = []
  for (const folder of folders) {
    const problem = await folderProblem(folder.dir)
    if (problem && folder.from === 'streams.dir') problems.push(`streams.dir ${folder.dir}: ${problem}`)
    rows.push([folder.from, folder.dir, problem ? `NOT WRITABLE (${problem})` : 'writable'])
  }
  for (const line of table(['FROM', 'FOLDER', 'ACCESS'], rows)) io.out(line)
}

/** Why this process could not write `dir` (or create it in its nearest existing parent), or undefined. */
async function folderProblem(dir: string): Promise<string | undefined> {
  for (let at = dir; ; at = dirname(at)) {
    const info = await stat(at).catch(() => undefined)
    if (info && !info.isDirectory()) return `${at} is not a folder`
    if (info)
      return access(at, constants.W_OK | constants.X_OK).then(
        () => undefined,
        (error: Error) => error.message,
      )
    if (dirname(at) === at) return 'no such folder'
  }
}

/** Who can reach the page, the API and /metrics, and a warning where that is more than the operator. */
function showAccess({ config, io, host, warnings }: Findings): void {
  const access = adminAccess(config.admin, host)
  const state = { off: 'off', token: 'on', links: 'on, with one-time sign-in links printed at start' }[access.mode]
  const metrics = config.metrics.enabled ? `/metrics${config.metrics.token ? ' (token)' : ' (open)'}` : 'off'
  io.out(`admin page and API: ${state} (${access.why}); metrics: ${metrics}`)
  if (access.mode === 'links' && !isLoopback(host)) {
    warnings.push(
      `no admin.token: the page on ${host} opens with sign-in links printed on stdout, so whoever reads the ` +
        'output (a log service too) can sign in; set admin.token, or admin.enabled: false',
    )
  }
  if (config.metrics.enabled && !config.metrics.token && !isLoopback(host)) {
    warnings.push(`/metrics is open to anyone who reaches ${host}: set metrics.token, or block /metrics at the proxy`)
  }
}

function describeWhen(route: RouteConfig): string {
  const parts = Object.entries(route.when).map(([key, value]) => `${key}=${(value as string[]).join(',')}`)
  return parts.length > 0 ? parts.join(' ') : '(everything but stream events)'
}

function typeOf(config: Config, name: string): string {
  return config.sinks[name]?.type ?? config.notifiers[name]?.type ?? 'internal'
}

function whereOf(config: Config, name: string): string {
  const sink = config.sinks[name]
  if (sink?.type === 'fs') return resolve(sink.dir)
  if (sink && 'bucket' in sink) return `${sink.type}://${sink.bucket}`
  const notifier = config.notifiers[name]
  if (notifier?.type === 'http') return new URL(notifier.url).origin
  if (notifier?.type === 'slack') return notifier.webhookUrl ? 'incoming webhook' : `bot -> ${notifier.channel}`
  return name === '@streams' ? 'stream lifecycle tracking' : '-'
}

/** Destinations no route sends to, and Slack notifiers that never get the stream events they alert on. */
function unusedDestinations(config: Config): string[] {
  const warnings: string[] = []
  const targets = (name: string) => config.routes.filter((route) => route.to.includes(name))
  for (const name of [...Object.keys(config.sinks), ...Object.keys(config.notifiers)]) {
    if (targets(name).length === 0) warnings.push(`${name}: no route sends anything to it`)
  }
  for (const [name, notifier] of Object.entries(config.notifiers)) {
    if (notifier.type !== 'slack') continue
    const getsStream = targets(name).some((route) => route.when.type?.some((type) => type.toLowerCase() === 'stream'))
    if (targets(name).length > 0 && !getsStream)
      warnings.push(`${name}: no route sends it stream events (live, ended): add type: stream to one of its routes`)
  }
  return warnings
}
