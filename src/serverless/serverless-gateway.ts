/**
 * The gateway for a serverless function, which is frozen as soon as it answers: the same pipeline as a server's,
 * with no background worker. A request is answered once the deliveries of what it accepted were made or given back
 * to the queue; a scheduled run (a timer) makes what waits there, and does what a server does in the background or
 * at start. Runtime-neutral, with the function's config and deadlines.
 * @module
 */
import type { Config } from '../config/config-schema.ts'
import { ConfigError, loadConfig, parseConfig } from '../config/load.ts'
import { SERVERLESS_DEFAULT_CONFIG, SERVERLESS_DEFAULT_ORIGIN } from './default-config.ts'
import type { Env } from '../config/interpolate.ts'
import { parseDuration } from '../config/units.ts'
import { createGateway, type Gateway, type GatewayOptions } from '../gateway.ts'
import type { Bindings } from '../http/bindings.ts'
import { onDemandWorker, type OnDemandWorker, type RunReport } from '../delivery/on-demand.ts'
import { silentLogger } from '../log.ts'

export interface ServerlessGateway {
  gateway: Gateway
  /**
   * Answers one request. A webhook's event is put in the queue (the answer's promise, as everywhere), then each of
   * its deliveries is made at once, in parallel, until `deadline` (epoch ms); what fails is retried by the schedule,
   * what does not finish is given back. Either way it waits in the queue for `scheduled`.
   */
  handle(request: Request, options: { deadline: number; bindings?: Bindings }): Promise<Response>
  /**
   * Makes the due deliveries (retries, flap-window checks, what a request left) until `deadline` or none is due, then
   * sweeps the queue and the stream state within it. The first run of an instance first schedules the checks of
   * streams left mid-transition (as a server does at start), which the run then makes.
   */
  scheduled(options: { deadline: number }): Promise<RunReport>
  close(): Promise<void>
}

/** No sign-in links: nobody reads a function's output, so without `admin.token` its page and API stay off. */
interface ServerlessOptions extends Omit<GatewayOptions, 'worker' | 'onAccepted' | 'signInLinks'> {
  /** After a deadline, how long deliveries under way get to be given back before the answer goes anyway (1 s). */
  settleMs?: number
}

export async function createServerlessGateway(
  config: Config,
  options: ServerlessOptions = {},
): Promise<ServerlessGateway> {
  const log = options.log ?? silentLogger
  let worker: OnDemandWorker | undefined
  const gateway = await createGateway(config, {
    ...options,
    // At the first scheduled run instead: every request's cold start would read every record.
    recoverStreamsAtStart: false,
    worker: (workerOptions) =>
      (worker = onDemandWorker(workerOptions, options.settleMs !== undefined ? { settleMs: options.settleMs } : {})),
    onAccepted: (event, destinations) => worker?.accepted(event.id, destinations),
  })
  const deliveries = worker!
  let recovered = false

  return {
    gateway,
    async handle(request, { deadline, bindings = {} }) {
      const { result: response, report } = await deliveries.around(
        () => Promise.resolve(gateway.fetch(request, bindings)),
        deadline,
      )
      const made = report.delivered + report.retried + report.dead + report.released
      if (made > 0 || report.paused.length > 0) {
        log[report.retried + report.released > 0 ? 'info' : 'debug']('deliveries made before answering', { ...report })
      }
      return response
    },
    async scheduled({ deadline }) {
      if (!recovered && Date.now() < deadline) {
        await gateway.recoverStreams().then(
          () => {
            recovered = true
          },
          (error) => {
            log.warn('cannot look for streams left mid-transition; the next scheduled run tries again', {
              error: String(error),
            })
          },
        )
      }
      const report = await deliveries.drain(deadline)
      log.info('scheduled deliveries made', { ...report })
      // A queue that keeps leftovers to sweep (the S3 queue's orphan copies, expired dedup markers) is swept here,
      // within the run: nothing runs in the background of a function, which is frozen after it answers.
      const sweepable = gateway.queue as { sweep?: () => Promise<unknown> }
      if (sweepable.sweep && Date.now() < deadline)
        await sweepable.sweep().catch((error) => log.warn('queue sweep failed', { error: String(error) }))
      // So is the stream state (the S3 store's ended streams past keepEnded, thumbnails of no record).
      const streams = gateway.streams as { sweep?: (options: { deadline: number }) => Promise<unknown> }
      if (streams.sweep && Date.now() < deadline) {
        await streams
          .sweep({ deadline })
          .catch((error) => log.warn('stream state sweep failed', { error: String(error) }))
      }
      return report
    },
    close: () => gateway.close(),
  }
}

/**
 * The config of a function: `HOOKCAST_CONFIG_YAML` (the YAML itself, for a small config set as a function
 * parameter), else `HOOKCAST_CONFIG` (a YAML file bundled with the function), else the default of a function
 * (default-config.ts: everything in the bucket named by HOOKCAST_BUCKET). Never the embedded default of a server,
 * which keeps everything in a local directory that a function does not keep.
 */
export async function loadServerlessConfig(env: Env): Promise<{ config: Config; origin: string }> {
  if (env.HOOKCAST_CONFIG_YAML) {
    return {
      config: parseConfig(env.HOOKCAST_CONFIG_YAML, env, '$HOOKCAST_CONFIG_YAML'),
      origin: '$HOOKCAST_CONFIG_YAML',
    }
  }
  if (env.HOOKCAST_CONFIG) return loadConfig(env.HOOKCAST_CONFIG, env)
  return {
    config: parseConfig(SERVERLESS_DEFAULT_CONFIG, env, SERVERLESS_DEFAULT_ORIGIN),
    origin: SERVERLESS_DEFAULT_ORIGIN,
  }
}

/** A request's deliveries stop this long before the function's own time runs out, to give back what is under way. */
const ANSWER_MARGIN_MS = 1_500
/**
 * Default time a request's deliveries may take, from when the function was invoked: well under the time after which
 * the platform counts a hook as timed out (undocumented; it disables webhooks that time out too often).
 */
const DEFAULT_DELIVER_WITHIN_MS = 6_000

/**
 * When a request's deliveries must stop: `within` after `startedAt` (`HOOKCAST_DELIVER_WITHIN`, default 6 s), and
 * never later than the function's remaining time less a margin.
 */
export function requestDeadline(env: Env, startedAt: number, remainingMs: number): number {
  return (
    startedAt +
    Math.max(
      0,
      Math.min(durationOf(env, 'HOOKCAST_DELIVER_WITHIN', DEFAULT_DELIVER_WITHIN_MS), remainingMs - ANSWER_MARGIN_MS),
    )
  )
}

/** When a scheduled run must stop: `HOOKCAST_SCHEDULED_WITHIN` if set, and 5 s before the function's time runs out. */
export function scheduledDeadline(env: Env, startedAt: number, remainingMs: number): number {
  return startedAt + Math.max(0, Math.min(durationOf(env, 'HOOKCAST_SCHEDULED_WITHIN', Infinity), remainingMs - 5_000))
}

function durationOf(env: Env, name: string, fallback: number): number {
  const text = env[name]
  if (text === undefined || text === '') return fallback
  const ms = parseDuration(text)
  if (ms === undefined) throw new ConfigError(`$${name}`, [`not a duration: "${text}" (try 500ms, 6s or 1m)`])
  return ms
}
