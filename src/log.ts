/**
 * Structured logs: one JSON object per line. Callers pass fields, never secrets or bodies.
 * @module
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

export type Logger = Record<LogLevel, (message: string, fields?: Record<string, unknown>) => void>

/** The level `HOOKCAST_LOG_LEVEL` names, or undefined when it names none (the config's level then). */
export function parseLogLevel(value: string | undefined): LogLevel | undefined {
  return value === 'debug' || value === 'info' || value === 'warn' || value === 'error' ? value : undefined
}

/**
 * `write` receives each line; by default lines go to stdout, debug and info lines gathered for one write per turn
 * of the event loop (a busy gateway logs several lines per request, and each write to a pipe is a system call),
 * warn and error lines at once, after anything gathered before them.
 */
export function createLogger(level: LogLevel = 'info', write?: (line: string) => void): Logger {
  const make =
    (at: LogLevel) =>
    (message: string, fields: Record<string, unknown> = {}) => {
      if (ORDER[at] < ORDER[level]) return
      const line = JSON.stringify({ time: new Date().toISOString(), level: at, msg: message, ...fields })
      if (write) write(line)
      else if (ORDER[at] >= ORDER.warn) {
        flushLogs()
        console.log(line)
      } else gather(line)
    }
  return { debug: make('debug'), info: make('info'), warn: make('warn'), error: make('error') }
}

let gathered: string[] = []
let scheduled = false

function gather(line: string): void {
  gathered.push(line)
  if (scheduled) return
  scheduled = true
  setImmediate(flushLogs)
}

/** Writes the lines gathered so far; call before exiting the process. */
export function flushLogs(): void {
  scheduled = false
  if (gathered.length === 0) return
  const lines = gathered
  gathered = []
  console.log(lines.join('\n'))
}

/** A logger that drops everything, for tests and library use. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} }
