/**
 * `hookcast replay`: queues dead letters for delivery again; a running gateway picks them up within a second.
 * @module
 */
import type { Env } from '../config/interpolate.ts'
import type { Config } from '../config/config-schema.ts'
import { chooseBackend } from '../backends/registry.ts'
import { TRACKER_NAME } from '../streams/tracker.ts'
import { loadConfigOption, type Io } from './io.ts'
import { parseCommand, UsageError } from './args.ts'

export const REPLAY_SPEC = {
  name: 'replay',
  usage: `usage: hookcast replay [--config FILE] (--all | --destination NAME | --event ID)

Queues dead letters for delivery again; a running gateway picks them up within a second, otherwise the next start
does (with a shared NATS or S3 backend they are pending again at once).
  --all                 every dead letter
  --destination NAME    the dead letters of one sink or notifier (with --event: of that event only)
  --event ID            the dead letters of one event (the id in the delivery logs)
  --config, -c FILE     the config whose spool holds them; default as for hookcast serve`,
  options: {
    config: { type: 'string', short: 'c' },
    all: { type: 'boolean' },
    destination: { type: 'string' },
    event: { type: 'string' },
  },
} as const

export async function replayCommand(args: readonly string[], env: Env, io: Io): Promise<number> {
  const { values } = parseCommand(REPLAY_SPEC, args)
  if (!values.all && !values.destination && !values.event)
    throw new UsageError('hookcast replay: say what to replay: --all, --destination NAME or --event ID')
  const { config } = await loadConfigOption(values.config, env)
  if (values.destination !== undefined) checkDestination(config, values.destination)
  const filter = {
    ...(values.destination ? { destination: values.destination } : {}),
    ...(values.event ? { eventId: values.event } : {}),
  }
  const backend = await chooseBackend(config.spool)
  const count = await backend.replay(filter, (done, total) => io.progress(done, total, 'queueing dead letters'))
  const letters = `${count} dead letter${count === 1 ? '' : 's'}`
  io.out(
    count === 0
      ? 'no dead letters matched'
      : backend.replayWaitsForGateway
        ? `queued ${letters} for replay; a running gateway picks them up within a second, otherwise the next start does`
        : `replayed ${letters}: pending again in the shared queue`,
  )
  return 0
}

/** A destination the config does not name has no deliveries to replay into: say which ones it has. */
function checkDestination(config: Config, name: string): void {
  const names = [...Object.keys(config.sinks), ...Object.keys(config.notifiers), TRACKER_NAME]
  if (!names.includes(name))
    throw new UsageError(
      `hookcast replay: no destination "${name}" in the config; valid destinations: ${names.join(', ')}`,
    )
}
