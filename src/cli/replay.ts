/**
 * `hookcast replay`: queues dead letters for delivery again; a running gateway picks them up within a second.
 * @module
 */
import { parseArgs } from 'node:util'
import type { Env } from '../config/interpolate.ts'
import { chooseBackend } from '../backends/registry.ts'
import { loadConfigOption, type Io } from './io.ts'

export async function replayCommand(args: readonly string[], env: Env, io: Io): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      config: { type: 'string', short: 'c' },
      all: { type: 'boolean' },
      destination: { type: 'string' },
      event: { type: 'string' },
    },
  })
  if (!values.all && !values.destination && !values.event) {
    io.err('say what to replay: --all, --destination NAME or --event ID')
    return 2
  }
  const { config } = await loadConfigOption(values.config, env)
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
