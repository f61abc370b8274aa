/**
 * What every runtime entry does before and after serving, in the same order: resolve and load the config, build
 * the gateway, and shut down gracefully. Adapters pass in only what differs per runtime.
 * @module
 */
import process from 'node:process'
import { ConfigError, loadConfig, resolveConfigPath } from './config/load.ts'
import type { Env } from './config/interpolate.ts'
import type { Config } from './config/config-schema.ts'
import { listenAddress } from './config/listen.ts'
import { adminAccess } from './config/admin-access.ts'
import { createGateway, type Gateway } from './gateway.ts'
import { createLogger, flushLogs, parseLogLevel, type Logger } from './log.ts'
import {
  createSignInLinks,
  isWildcard,
  linkOrigin,
  signInBanner,
  signInLink,
  type SignInLinks,
} from './admin/sign-in-link.ts'
import { parseCommand, UsageError, wantsHelp } from './cli/args.ts'
import { SERVE_SPEC } from './cli/serve.ts'

interface Prepared {
  gateway: Gateway
  port: number
  host: string
  maxBodyBytes: number
  /** `server.headersTimeout` and `server.bodyTimeout`, for the runtime's own connection timeouts. */
  headersTimeoutMs: number
  bodyTimeoutMs: number
  shutdownGraceMs: number
  log: Logger
  /** The adapter calls this once its server listens, with the port it got and the runtime's name and version. */
  listening(port: number, runtime: string): void
}

/** A runtime's own reason not to start with this config (Deno: folders it may not write), or undefined. */
type StartCheck = (config: Config) => string | undefined

/**
 * The server's options, as `hookcast serve` or `npm start --` passes them: `--help` prints their usage and exits, and
 * an option the server does not take stops the start (exit status 2) rather than being ignored.
 */
function serveArgs(args: readonly string[], exit: (code: number) => never): readonly string[] {
  const own = args[0] === SERVE_SPEC.name ? args.slice(1) : args
  if (wantsHelp(own)) {
    console.log(SERVE_SPEC.usage)
    return exit(0)
  }
  try {
    parseCommand(SERVE_SPEC, own)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    console.error(`${error.message}\n\n${SERVE_SPEC.usage}`)
    return exit(2)
  }
  return own
}

/** Loads the config and builds the gateway; on a bad config prints every problem and exits with status 1. */
export async function prepareServer(
  args: readonly string[],
  env: Env,
  exit: (code: number) => never,
  startCheck?: StartCheck,
): Promise<Prepared> {
  const own = serveArgs(args, exit)
  let log = createLogger(parseLogLevel(env.HOOKCAST_LOG_LEVEL) ?? 'info')
  try {
    const path = resolveConfigPath(own, env)
    const { config, origin } = await loadConfig(path, env)
    log = createLogger(parseLogLevel(env.HOOKCAST_LOG_LEVEL) ?? config.log.level)
    const listen = listenAddress(config, env)
    const refusal = listen.refusal ?? startCheck?.(config)
    if (refusal) {
      console.error(`cannot start: ${refusal}`)
      return exit(1)
    }
    if (listen.devSecretSources.length > 0) {
      log.warn('using the development signing secret; set MILLICAST_WEBHOOK_SECRET for real traffic', {
        host: listen.host,
      })
    }
    // No admin.token: the page opens with one-time links printed once the server listens,
    // on loopback or where admin.signInLinks says so; else it stays off, and the log says why.
    const access = adminAccess(config.admin, listen.host)
    if (access.mode === 'off' && config.admin.enabled) log.warn(`admin page and API off: ${access.why}`)
    const links = access.mode === 'links' ? firstRunLinks(listen.host, log) : undefined
    const gateway = await createGateway(config, { log, ...(links ? { signInLinks: links.links } : {}) })
    // Last line of defence: a background promise nobody caught is a bug, but it must not take the accepted events'
    // deliveries down with the process. Logged and counted (hookcast_background_failures_total{component="unhandled"}).
    process.on('unhandledRejection', (reason) => {
      log.error('unhandled rejection (a bug; please report it)', {
        error: String((reason as Error)?.stack ?? reason).slice(0, 2000),
      })
      gateway.metrics.backgroundFailure('unhandled')
    })
    const port = env.PORT !== undefined && env.PORT !== '' ? Number(env.PORT) : config.server.port
    log.info('config loaded', {
      config: origin,
      sources: Object.keys(config.sources),
      destinations: [...gateway.destinations.keys()],
      spool: gateway.where,
    })
    return {
      gateway,
      port,
      host: listen.host,
      maxBodyBytes: config.server.maxBodyBytes,
      headersTimeoutMs: config.server.headersTimeout,
      bodyTimeoutMs: config.server.bodyTimeout,
      shutdownGraceMs: config.server.shutdownGrace,
      log,
      listening(listeningPort, runtime) {
        log.info('listening', { url: `http://${listen.host}:${listeningPort}`, runtime })
        links?.listening(listeningPort)
      },
    }
  } catch (error) {
    console.error(error instanceof ConfigError ? error.message : `cannot start: ${(error as Error).stack ?? error}`)
    return exit(1)
  }
}

/**
 * Sign-in links for a server without `admin.token`: the first is printed once the server listens (the link needs
 * the port the server got: PORT=0 lets the system choose), and each use prints the next.
 *
 * The links go to stdout for the person at the terminal, as plain lines marked as a secret: never through the
 * structured log, which may be shipped elsewhere and says only that a link was printed.
 */
function firstRunLinks(host: string, log: Logger): { links: SignInLinks; listening(port: number): void } {
  let origin: string | undefined
  const print = (token: string, renewed: boolean) => {
    if (origin === undefined) return
    flushLogs() // after the lines logged before it
    console.log(signInBanner(signInLink(origin, token), { renewed, wildcard: isWildcard(host) }))
  }
  const links = createSignInLinks({
    onRenew: (token) => {
      print(token, true)
      log.info('admin sign-in link used; the next one is printed on stdout', { page: `${origin}/` })
    },
  })
  return {
    links,
    listening(port) {
      if (origin !== undefined) return
      origin = linkOrigin(host, port)
      print(links.token, false)
      log.info('admin page on, with one-time sign-in links printed on stdout (no admin.token set)', {
        page: `${origin}/`,
      })
    },
  }
}

/**
 * A SIGINT/SIGTERM handler: stop accepting, let the gateway drain for at most `graceMs`, then exit.
 * A second signal forces the exit.
 */
export function shutdownHandler(options: {
  stopServer: () => Promise<void>
  gateway: Gateway
  log: Logger
  exit: (code: number) => never
  /** `server.shutdownGrace`. */
  graceMs: number
  /** Runs once the gateway has closed: exports the spans still buffered (tracing on). */
  flush?: () => Promise<void>
}): (signal: string) => void {
  let stopping = false
  return (signal) => {
    if (stopping) {
      options.log.warn('second signal; exiting now', { signal })
      options.exit(1)
    }
    stopping = true
    options.log.info('shutting down', { signal })
    const grace = options.graceMs
    const force = setTimeout(() => options.exit(1), grace + 5_000)
    void (async () => {
      await options.stopServer().catch(() => {})
      await options.gateway.close(grace).catch((error) => options.log.error('close failed', { error: String(error) }))
      await options
        .flush?.()
        .catch((error) => options.log.warn('could not export the last spans', { error: String(error) }))
      clearTimeout(force)
      options.log.info('stopped')
      options.exit(0)
    })()
  }
}
