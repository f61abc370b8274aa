/**
 * The `hookcast` command line (besides `serve`, which the bin hands to the Node adapter): picks the command and
 * turns its failure into a message and an exit code.
 * @module
 */
import { ConfigError } from '../config/load.ts'
import type { Env } from '../config/interpolate.ts'
import { checkCommand } from './check.ts'
import { defaultIo, type Io } from './io.ts'
import { replayCommand } from './replay.ts'
import { sendCommand, SEND_USAGE } from './send.ts'
import { configJsonSchema } from './schema.ts'

const USAGE = `usage: hookcast <command> [options]

commands:
  serve  [--config FILE]        run the gateway (what npm start runs)
  check  [--config FILE]        validate the config, list sources, routes and destinations, and check what can be
                                checked without sending anything (exit 1 on a problem)
  send   <kind> [--url URL] [--secret B64] [--stream ACCOUNT/NAME] [--file frame.jpg]
                                sign and send a realistic platform webhook (kinds: hookcast send --help)
  replay [--config FILE] (--all | --destination NAME | --event ID)
                                re-drive dead letters: a running gateway picks them up within a second
  schema                        print the config's JSON Schema
`

export async function main(args: readonly string[], env: Env, io: Io = defaultIo): Promise<number> {
  const [command, ...rest] = args
  try {
    switch (command) {
      case 'replay':
        return await replayCommand(rest, env, io)
      case 'check':
        return await checkCommand(rest, env, io)
      case 'send':
        if (rest.includes('--help')) {
          io.out(SEND_USAGE)
          return 0
        }
        return await sendCommand(rest, env, io)
      case 'schema':
        io.out(configJsonSchema().trimEnd())
        return 0
      case 'help':
      case '--help':
      case '-h':
        io.out(USAGE)
        return 0
      default:
        io.err(`unknown command "${command}"\n\n${USAGE}`)
        return 2
    }
  } catch (error) {
    io.err(error instanceof ConfigError ? error.message : `hookcast ${command}: ${(error as Error).message}`)
    return 1
  }
}
