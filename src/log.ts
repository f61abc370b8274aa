/**
 * Structured logs: one JSON object per line. Callers pass fields, never secrets or bodies.
 * @module
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

export type Logger = Record<LogLevel, (message: string, fields?: Record<string, unknown>) => void>

export function createLogger(level: LogLevel = 'info', write: (line: string) => void = (line) => console.log(line)): Logger {
  const make = (at: LogLevel) => (message: string, fields: Record<string, unknown> = {}) => {
    if (ORDER[at] < ORDER[level]) return
    write(JSON.stringify({ time: new Date().toISOString(), level: at, msg: message, ...fields }))
  }
  return { debug: make('debug'), info: make('info'), warn: make('warn'), error: make('error') }
}

/** A logger that drops everything, for tests and library use. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} }
