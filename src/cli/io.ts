/**
 * What every `hookcast` command shares: where its output goes, and how it reads `--config`.
 * @module
 */
import process from 'node:process'
import { loadConfig, resolveConfigPath } from '../config/load.ts'
import type { Env } from '../config/interpolate.ts'

export interface Io {
  out(line: string): void
  err(line: string): void
  /** Shows progress of a long operation: one rewritten line on a terminal, a line per 10% otherwise. */
  progress(done: number, total: number, what: string): void
}

export const defaultIo: Io = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
  progress: progressPrinter((text) => process.stderr.write(text), Boolean(process.stderr.isTTY)),
}

/** A progress display: on a terminal one line rewritten in place; in a log, a line each 10%. */
function progressPrinter(write: (text: string) => void, tty: boolean): Io['progress'] {
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

/** The config a command's `--config FILE` option names, or the default one. */
export function loadConfigOption(file: string | undefined, env: Env): ReturnType<typeof loadConfig> {
  return loadConfig(resolveConfigPath(file ? ['--config', file] : [], env), env)
}
