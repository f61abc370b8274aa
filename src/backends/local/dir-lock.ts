/**
 * One process per spool directory: a second would interleave writes.
 *
 * The lock is a file created exclusively (`wx`), holding the owner's pid and start time. A supervisor must always
 * be able to bring the gateway back, so a lock whose owner is gone — exited, killed and not yet reaped (a zombie),
 * or a pid that now belongs to another process — is taken over; a live owner (a gateway still draining after
 * SIGTERM) is waited for a short while before giving up.
 * @module
 */
import { link, open, readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { isAlive, ownIdentity, ownPid } from '../../util/pid.ts'
import { sleep } from '../../util/sleep.ts'

interface DirLock {
  /** False once another process has replaced the lock file (it should never happen; worth a loud log). */
  held(): Promise<boolean>
  release(): Promise<void>
}

interface LockOptions {
  /** How long to wait for a live owner to let go, ms. */
  waitMs?: number
  /** Told once when the wait starts. */
  onWait?: (holder: string) => void
}

const POLL_MS = 100

export async function lockDir(dir: string, options: LockOptions = {}): Promise<DirLock> {
  const path = join(dir, 'LOCK')
  const me = ownIdentity()
  const deadline = Date.now() + (options.waitMs ?? 15_000)
  let told = false
  for (;;) {
    if (await create(path, me)) break
    const holder = (await readFile(path, 'utf8').catch(() => '')).trim()
    if (holder === '') {
      // Just created and not written yet, or emptied by a crash mid-write: give its owner a moment.
      await sleep(POLL_MS)
      if ((await readFile(path, 'utf8').catch(() => '')).trim() === '') await takeOver(path, '')
      continue
    }
    if (!isAlive(holder) || holder === me) {
      await takeOver(path, holder)
      continue
    }
    if (Date.now() >= deadline) {
      throw new Error(`spool ${dir} is in use by process ${holder.split(':')[0]}; give each instance its own spool.dir`)
    }
    if (!told) options.onWait?.(holder.split(':')[0]!)
    told = true
    await sleep(POLL_MS)
  }
  return {
    held: async () => (await readFile(path, 'utf8').catch(() => '')).trim() === me,
    async release() {
      if ((await readFile(path, 'utf8').catch(() => '')).trim() === me) await rm(path, { force: true })
    },
  }
}

/** Creates the lock file only if none exists. */
async function create(path: string, me: string): Promise<boolean> {
  const handle = await open(path, 'wx').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'EEXIST') return undefined
    throw error
  })
  if (!handle) return false
  try {
    await handle.writeFile(me)
  } finally {
    await handle.close()
  }
  return true
}

/**
 * Removes a stale lock file, and only the one that was judged stale: it is moved aside first, and if what was moved
 * is not what was read (another process took over in between), it is put back.
 */
async function takeOver(path: string, stale: string): Promise<void> {
  const aside = `${path}.stale-${ownPid}-${crypto.randomUUID().slice(0, 8)}`
  try {
    await rename(path, aside)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
    throw error
  }
  const moved = (await readFile(aside, 'utf8').catch(() => '')).trim()
  if (moved !== stale) await link(aside, path).catch(() => {})
  await rm(aside, { force: true })
}
