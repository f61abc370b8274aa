/**
 * The `hookcast` command line (besides `serve`, which the bin hands to the Node adapter).
 * @module
 */
import { parseArgs } from 'node:util'
import process from 'node:process'
import { ConfigError, loadConfig, resolveConfigPath } from '../config/load.ts'
import type { Env } from '../config/interpolate.ts'
import { queueReplay } from '../spool/local-spool.ts'
import { check } from './check.ts'
import { send, SEND_USAGE } from './send.ts'
import { configJsonSchema } from './schema.ts'

export interface Io {
  out(line: string): void
  err(line: string): void
  /** Shows progress of a long operation: one rewritten line on a terminal, a line per 10% otherwise. */
  progress(done: number, total: number, what: string): void
}

const defaultIo: Io = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
  progress: progressPrinter((text) => process.stderr.write(text), Boolean(process.stderr.isTTY)),
}

/** A progress display: on a terminal one line rewritten in place; in a log, a line each 10%. */
export function progressPrinter(write: (text: string) => void, tty: boolean): Io['progress'] {
  let shown = -1
  return (done, total, what) => {
    const percent = Math.floor((done / total) * 100)
    const step = tty ? percent : percent - (percent % 10)
    if (step === shown && done !== total) return
    shown = step
    const line = `${what}: ${done}/${total} (${percent}%)`
    write(tty ? `\r${line}${done === total ? '\n' : ''}` : `${line}\n`)
  }
}

const USAGE = `usage: hookcast <command> [options]

commands:
  serve  [--config FILE]        run the gateway (what npm start runs)
  check  [--config FILE]        validate the config, list sources, routes and destinations, and check what can be
                                checked without sending anything (exit 1 on a problem)
  send   <kind> --url URL [--secret B64] [--stream ACCOUNT/NAME] [--file frame.jpg]
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
        return await replay(rest, env, io)
      case 'check':
        return await check(rest, env, io)
      case 'send':
        if (rest.includes('--help')) {
          io.out(SEND_USAGE)
          return 0
        }
        return await send(rest, env, io)
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

async function replay(args: readonly string[], env: Env, io: Io): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: { config: { type: 'string', short: 'c' }, all: { type: 'boolean' }, destination: { type: 'string' }, event: { type: 'string' } },
  })
  if (!values.all && !values.destination && !values.event) {
    io.err('say what to replay: --all, --destination NAME or --event ID')
    return 2
  }
  const { config } = await loadConfig(resolveConfigPath(values.config ? ['--config', values.config] : [], env), env)
  const filter = { ...(values.destination ? { destination: values.destination } : {}), ...(values.event ? { eventId: values.event } : {}) }
  const count = await queueReplay(config.spool.dir, filter, (done, total) => io.progress(done, total, 'queueing dead letters'))
  io.out(count === 0
    ? 'no dead letters matched'
    : `queued ${count} dead letter${count === 1 ? '' : 's'} for replay; a running gateway picks them up within a second, otherwise the next start does`)
  return 0
}
