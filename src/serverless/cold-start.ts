/**
 * A function's gateway, built by its first invocation (the cold start) and kept for the next ones. What any
 * serverless entry does before it can answer, whatever the platform: load the config, check the deadlines' settings,
 * and build the gateway once.
 * @module
 */
import type { Env } from '../config/interpolate.ts'
import { ConfigError } from '../config/load.ts'
import { createLogger, parseLogLevel, type Logger } from '../log.ts'
import {
  createServerlessGateway,
  loadServerlessConfig,
  requestDeadline,
  scheduledDeadline,
  type ServerlessGateway,
} from './serverless-gateway.ts'

export interface ColdStart {
  /**
   * The gateway, built at the first call. A start that fails prints why (a function's log is its output) and is
   * tried again by the next call: a bucket briefly unreachable at the cold start must not break the instance for good.
   */
  gateway(): Promise<ServerlessGateway>
  /** Closes the gateway, if it started (for tests). */
  close(): Promise<void>
}

/** `options.log`: the logger to use whatever the config says (tests); by default one at the configured level. */
export function coldStart(env: Env, options: { log?: Logger } = {}): ColdStart {
  let ready: Promise<ServerlessGateway> | undefined
  const start = () =>
    (ready ??= startGateway(env, options.log).catch((error: unknown) => {
      ready = undefined
      throw error
    }))
  return {
    gateway: () =>
      start().catch((error: unknown) => {
        console.error(error instanceof ConfigError ? error.message : `cannot start: ${(error as Error).stack ?? error}`)
        throw error
      }),
    async close() {
      await (await ready?.catch(() => undefined))?.close()
    },
  }
}

async function startGateway(env: Env, given: Logger | undefined): Promise<ServerlessGateway> {
  const { config, origin } = await loadServerlessConfig(env)
  requestDeadline(env, 0, Infinity) // a malformed HOOKCAST_DELIVER_WITHIN or HOOKCAST_SCHEDULED_WITHIN fails here, once
  scheduledDeadline(env, 0, Infinity)
  const log = given ?? createLogger(parseLogLevel(env.HOOKCAST_LOG_LEVEL) ?? config.log.level)
  if (config.spool.type === 'local') {
    log.warn(
      "spool type local keeps undelivered events in this instance's /tmp, lost when it goes; use a shared spool",
      { dir: config.spool.dir },
    )
  }
  const serverless = await createServerlessGateway(config, { log })
  log.info('config loaded', {
    config: origin,
    sources: Object.keys(config.sources),
    destinations: [...serverless.gateway.destinations.keys()],
  })
  return serverless
}
