/**
 * Whether a process id belongs to a running process (to take over what a killed process left behind).
 * @module
 */
import process from 'node:process'

export function isAlive(pid: number): boolean {
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM'
  }
}

export const ownPid = process.pid
