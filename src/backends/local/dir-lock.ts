/**
 * One process per spool directory: a second would interleave writes.
 *
 * The lock is a file created whole and only if none exists (a hard link), holding the owner's pid and start time.
 * A supervisor must always be able to bring the gateway back, so a lock whose owner is gone — exited, killed and not
 * yet reaped (a zombie), or a pid that now belongs to another process — is taken over; a live owner (a gateway still
 * draining after SIGTERM) is waited for a short while before giving up.
 * @module
 */
import { link, readFile, rm, writeFile } from 'node:fs/promises'
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
    const holder = await readHolder(path)
    if (holder === undefined) continue // removed since: try again
    // An empty lock is one an older version left half-written when it was killed: lock files are now whole.
    if (holder === '' || holder === me || !isAlive(holder)) {
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
    held: async () => (await readHolder(path)) === me,
    async release() {
      if ((await readHolder(path)) === me) await rm(path, { force: true })
    },
  }
}

/** The identity a lock file holds, trimmed; undefined when there is no file. */
async function readHolder(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim()
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}

/**
 * Creates a lock file with its content in one step, only if none exists: the content goes to a file of its own,
 * which is then hard-linked in place (a link never replaces), so nobody ever reads a lock that is not yet written.
 */
async function create(path: string, me: string): Promise<boolean> {
  const draft = `${path}.new-${ownPid}-${crypto.randomUUID().slice(0, 8)}`
  try {
    await writeFile(draft, me)
    await link(draft, path)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw error
  } finally {
    await rm(draft, { force: true })
  }
}

/**
 * Removes a lock judged stale, and only while it still holds what was judged: reading and removing are two steps,
 * so processes taking over at once do them one at a time, under a second lock file. Without it one could remove the
 * lock another had just taken over, and both would hold the directory.
 */
async function takeOver(path: string, stale: string): Promise<void> {
  const guard = `${path}.takeover`
  if (!(await create(guard, ownIdentity()))) {
    const taker = await readHolder(guard)
    // A taker killed in the middle (a few milliseconds' window) leaves the guard behind: clear it.
    if (taker !== undefined && !isAlive(taker) && (await readHolder(guard)) === taker) await rm(guard, { force: true })
    else await sleep(10)
    return
  }
  try {
    if ((await readHolder(path)) === stale) await rm(path, { force: true })
  } finally {
    await rm(guard, { force: true })
  }
}
