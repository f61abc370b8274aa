/**
 * Whether a process id belongs to a running process (to take over what a killed process left behind).
 *
 * `kill(pid, 0)` alone is not enough: a process killed with SIGKILL stays a zombie until its parent reaps it (and
 * `kill` still succeeds on it), and after a container restart a recorded pid can belong to another process. Where
 * `/proc` exists (Linux) a process is identified by its pid *and* its start time, and a zombie counts as gone.
 * @module
 */
import { readFileSync } from 'node:fs'
import process from 'node:process'

export const ownPid = process.pid

/** Start time of a process in clock ticks since boot (field 22 of /proc/<pid>/stat); undefined without /proc. */
export function processStart(pid: number): string | undefined {
  return procStat(pid)?.start
}

/** This process, as a lock file records it: `pid` or `pid:start`. */
export function ownIdentity(): string {
  const start = processStart(ownPid)
  return start === undefined ? String(ownPid) : `${ownPid}:${start}`
}

/** True while the process a `pid` or `pid:start` identity names is running (not a zombie, not a reused pid). */
export function isAlive(identity: number | string): boolean {
  const [pidText, start] = String(identity).trim().split(':')
  const pid = Number(pidText)
  if (!Number.isInteger(pid) || pid <= 0) return false
  if (pid === ownPid) return start === undefined || start === processStart(ownPid)
  const stat = procStat(pid)
  if (stat !== null) {
    if (stat === undefined) return false // /proc exists, this pid does not
    if (stat.state === 'Z' || stat.state === 'X') return false
    return start === undefined || start === stat.start
  }
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM'
  }
}

let hasProc: boolean | undefined

/** null: no /proc on this system; undefined: no such process. */
function procStat(pid: number): { state: string; start: string } | null | undefined {
  try {
    // The command name (field 2) is in parentheses and may hold spaces: fields are counted after the last `)`.
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    hasProc = true
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
    return { state: fields[0]!, start: fields[19]! }
  } catch {
    hasProc ??= procExists()
    return hasProc ? undefined : null
  }
}

function procExists(): boolean {
  try {
    readFileSync('/proc/self/stat')
    return true
  } catch {
    return false
  }
}
