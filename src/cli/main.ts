/**
 * The `hookcast` command line: picks the command, answers `--help` and `--version` before anything runs, and turns a
 * failure into a message and an exit code. `serve` is only checked here: the bin then hands it to the Node adapter.
 * @module
 */
import { ConfigError } from '../config/load.ts'
import type { Env } from '../config/interpolate.ts'
import { UsageError, wantsHelp, type CommandSpec } from './args.ts'
import { CHECK_SPEC, checkCommand } from './check.ts'
import { DENO_SPEC, denoCommand } from './deno.ts'
import { defaultIo, type Io } from './io.ts'
import { REPLAY_SPEC, replayCommand } from './replay.ts'
import { SEND_SPEC, sendCommand } from './send.ts'
import { SCHEMA_SPEC, schemaCommand } from './schema.ts'
import { SERVE_SPEC, serveCommand } from './serve.ts'
import { packageRoot } from './package-root.ts'

/** What `main` tells the bin: an exit status, or to start the gateway in this process. */
type Outcome = number | 'serve'

interface Command {
  spec: CommandSpec
  summary: string
  run(args: readonly string[], env: Env, io: Io): Promise<Outcome>
}

const COMMANDS: Record<string, Command> = {
  serve: { spec: SERVE_SPEC, summary: 'run the gateway on Node (what npm start runs)', run: serveCommand },
  deno: { spec: DENO_SPEC, summary: "run the gateway on Deno, allowed exactly the config's folders", run: denoCommand },
  check: { spec: CHECK_SPEC, summary: 'validate the config and check destinations without sending', run: checkCommand },
  send: { spec: SEND_SPEC, summary: 'sign and send a realistic platform webhook', run: sendCommand },
  replay: { spec: REPLAY_SPEC, summary: 'queue dead letters for delivery again', run: replayCommand },
  schema: { spec: SCHEMA_SPEC, summary: "print the config's JSON Schema", run: schemaCommand },
}

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length))
  const lines = Object.entries(COMMANDS).map(([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`)
  return [
    'usage: hookcast <command> [options]',
    '',
    'commands:',
    ...lines,
    '',
    'hookcast <command> --help shows the options of one command; hookcast --version prints the version.',
  ].join('\n')
}

export async function main(args: readonly string[], env: Env, io: Io = defaultIo): Promise<Outcome> {
  const [name, ...rest] = args
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    const topic = name === 'help' && rest[0] ? COMMANDS[rest[0]] : undefined
    io.out(topic ? topic.spec.usage : usage())
    return 0
  }
  if (name === '--version' || name === '-v') {
    io.out(packageRoot().version)
    return 0
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined
  if (!command) {
    io.err(`hookcast: unknown command "${name}"; valid commands: ${Object.keys(COMMANDS).join(', ')}\n\n${usage()}`)
    return 2
  }
  if (wantsHelp(rest)) {
    io.out(command.spec.usage)
    return 0
  }
  try {
    return await command.run(rest, env, io)
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`${error.message}\n(hookcast ${name} --help shows its usage)`)
      return 2
    }
    io.err(error instanceof ConfigError ? error.message : `hookcast ${name}: ${(error as Error).message}`)
    return 1
  }
}
