/**
 * `hookcast serve`: only its options are read here; the bin then starts the Node adapter in this process, which
 * reads `--config` itself (as `npm start -- --config FILE` does).
 * @module
 */
import type { Env } from '../config/interpolate.ts'
import { parseCommand } from './args.ts'

export const SERVE_SPEC = {
  name: 'serve',
  usage: `usage: hookcast serve [--config FILE]

Runs the gateway until SIGINT or SIGTERM (npm start runs the same; npm run start:deno and start:bun take the
same options).
  --config, -c FILE  the config; default: $HOOKCAST_CONFIG, else ./config.yaml, else ./config.example.yaml, else
                     the built-in default (hooks on /hooks/millicast, everything under ./data)
  environment: PORT and HOST override server.port and server.host; HOOKCAST_LOG_LEVEL overrides log.level`,
  options: { config: { type: 'string', short: 'c' } },
} as const

export async function serveCommand(args: readonly string[], _env: Env): Promise<'serve'> {
  parseCommand(SERVE_SPEC, args)
  return 'serve'
}
