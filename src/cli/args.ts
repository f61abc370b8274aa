/**
 * Reading a command's options the same way for every command: `--help` (or `-h`) anywhere asks for its usage
 * before anything else is read, and an unknown option or a missing value is a usage error that lists the valid ones.
 * @module
 */
import { parseArgs, type ParseArgsConfig } from 'node:util'

type Options = NonNullable<ParseArgsConfig['options']>

/** A command's options as `hookcast <command>` takes them, and the usage printed for `--help` and mistakes. */
export interface CommandSpec<O extends Options = Options> {
  name: string
  usage: string
  options: O
  positionals?: boolean
}

/** A mistake in how a command was called: printed with the command's usage, exit status 2. */
export class UsageError extends Error {
  override name = 'UsageError'
}

export function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--')
  return (end === -1 ? args : args.slice(0, end)).some((arg) => arg === '--help' || arg === '-h')
}

/** The parsed options, or a UsageError naming what was wrong and the options the command takes. */
export function parseCommand<O extends Options>(spec: CommandSpec<O>, args: readonly string[]) {
  try {
    return parseArgs({ args: [...args], options: spec.options, allowPositionals: spec.positionals ?? false })
  } catch (error) {
    const { code, message } = error as { code?: string; message: string }
    if (!code?.startsWith('ERR_PARSE_ARGS_')) throw error
    const what = /'([^']+)'/.exec(message)?.[1] ?? ''
    const problem =
      code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
        ? `unknown option "${what}"`
        : code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL'
          ? `unexpected argument "${what}"`
          : `${/--[\w-]+/.exec(what)?.[0] ?? what} needs a value`
    throw new UsageError(`hookcast ${spec.name}: ${problem}; valid options: ${optionList(spec.options)}`)
  }
}

function optionList(options: Options): string {
  const names = Object.entries(options).map(([name, option]) => `--${name}${option.short ? ` (-${option.short})` : ''}`)
  return [...names, '--help (-h)'].join(', ')
}
