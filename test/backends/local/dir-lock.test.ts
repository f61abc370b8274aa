/**
 * The spool directory lock: a supervisor must always be able to restart the gateway after a crash, and two
 * processes must never both hold one directory.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { lockDir } from '../../../src/backends/local/dir-lock.ts'
import { isAlive, processStart } from '../../../src/util/pid.ts'
import { ROOT } from '../../support/runtimes.ts'
import { tempDir } from '../../support/files.ts'
import { eventually } from '../../support/wait.ts'

let dir: ReturnType<typeof tempDir>
beforeEach(() => {
  dir = tempDir('hookcast-lock-')
})
afterEach(() => dir.remove())

/** A process that exited but was not reaped by its parent: `kill(pid, 0)` still succeeds on it. */
async function zombie(): Promise<{ pid: number; stop(): void }> {
  const parent = spawn(
    'python3',
    [
      '-c',
      [
        'import os, sys, time',
        'pid = os.fork()',
        'if pid == 0: os._exit(0)',
        'print(pid, flush=True)',
        'time.sleep(60)',
      ].join('\n'),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  const pid = await new Promise<number>((resolve) =>
    parent.stdout.once('data', (chunk) => resolve(Number(String(chunk).trim()))),
  )
  // Wait until the child really is a zombie.
  await eventually(() => /\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8')))
  return { pid, stop: () => parent.kill('SIGKILL') }
}

describe('spool directory lock', () => {
  it('takes over at once from a killed owner that is not reaped yet (a zombie)', async () => {
    const dead = await zombie()
    try {
      expect(() => process.kill(dead.pid, 0)).not.toThrow() // what the old check relied on
      writeFileSync(join(dir.path, 'LOCK'), `${dead.pid}:${processStart(dead.pid)}`)
      const lock = await lockDir(dir.path, { waitMs: 0 })
      expect(await lock.held()).toBe(true)
      await lock.release()
    } finally {
      dead.stop()
    }
  })

  it('takes over a lock whose pid now belongs to another process (another start time)', async () => {
    writeFileSync(join(dir.path, 'LOCK'), `${process.ppid}:1`)
    expect(isAlive(`${process.ppid}:1`)).toBe(false)
    expect(isAlive(`${process.ppid}:${processStart(process.ppid)}`)).toBe(true)
    const lock = await lockDir(dir.path, { waitMs: 0 })
    expect(await lock.held()).toBe(true)
    await lock.release()
  })

  it('waits for a live owner, then says who holds it; takes it once the owner is gone', async () => {
    const owner = spawn('sleep', ['600'])
    try {
      await new Promise((resolve) => owner.once('spawn', resolve))
      writeFileSync(join(dir.path, 'LOCK'), `${owner.pid}:${processStart(owner.pid!)}`)
      await expect(lockDir(dir.path, { waitMs: 0 })).rejects.toThrow(`in use by process ${owner.pid}`)
      const waited: string[] = []
      // The owner goes only once the second start is waiting for it.
      const onWait = (pid: string) => {
        waited.push(pid)
        owner.kill('SIGKILL')
      }
      const lock = await lockDir(dir.path, { waitMs: 60_000, onWait })
      expect(waited).toEqual([String(owner.pid)])
      expect(await lock.held()).toBe(true)
      await lock.release()
    } finally {
      owner.kill('SIGKILL')
    }
  })

  it('takes over an empty lock (an older version killed mid-write) and a takeover guard left by a killed taker', async () => {
    writeFileSync(join(dir.path, 'LOCK'), '')
    writeFileSync(join(dir.path, 'LOCK.takeover'), '999999999')
    const lock = await lockDir(dir.path, { waitMs: 0 })
    expect(await lock.held()).toBe(true)
    expect(readdirSync(dir.path).sort()).toEqual(['LOCK']) // no guard or draft left behind
    await lock.release()
    expect(readdirSync(dir.path)).toEqual([])
  })

  it('waits for a live taker guard instead of removing the lock under it', async () => {
    writeFileSync(join(dir.path, 'LOCK'), `${process.ppid}:${processStart(process.ppid)}`) // a live owner
    writeFileSync(join(dir.path, 'LOCK.takeover'), `${process.ppid}:${processStart(process.ppid)}`)
    await expect(lockDir(dir.path, { waitMs: 0 })).rejects.toThrow(/in use by process/)
    expect(readFileSync(join(dir.path, 'LOCK'), 'utf8')).toBe(`${process.ppid}:${processStart(process.ppid)}`)
  })

  it('lets exactly one of several processes starting at once take it', async () => {
    writeFileSync(join(dir.path, 'LOCK'), '999999999') // stale: every starter sees a lock to take over
    // Each child loads the module, says "ready", tries the lock when told "go", says what it got, and holds it
    // until its stdin ends: all try at once, and the winner still holds the lock while the others try.
    const script = `
      const { lockDir } = await import(${JSON.stringify(join(ROOT, 'src/backends/local/dir-lock.ts'))})
      const input = process.stdin[Symbol.asyncIterator]()
      console.log('ready')
      await input.next()
      let result = 'held'
      try { await lockDir(${JSON.stringify(dir.path)}, { waitMs: 0 }) } catch { result = 'refused' }
      console.log(result)
      while (!(await input.next()).done) {}`
    const children = Array.from({ length: 4 }, () => {
      const args = ['--import', 'tsx', '--input-type=module', '-e', script]
      const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] })
      const lines: string[] = []
      let partial = ''
      child.stdout.on('data', (chunk) => {
        const parts = (partial + String(chunk)).split('\n')
        partial = parts.pop()!
        lines.push(...parts.map((line) => line.trim()))
      })
      const exited = new Promise((resolve) => child.once('exit', resolve))
      return { child, lines, exited }
    })
    try {
      await eventually(() => children.every(({ lines }) => lines.includes('ready')), 25_000)
      for (const { child } of children) child.stdin.write('go\n')
      const results = await eventually(() => {
        const answers = children.map(({ lines }) => lines.find((line) => line === 'held' || line === 'refused'))
        return answers.every((answer) => answer !== undefined) && answers
      }, 25_000)
      expect(results.filter((r) => r === 'held')).toHaveLength(1)
      expect(results.filter((r) => r === 'refused')).toHaveLength(3)
    } finally {
      for (const { child } of children) child.stdin.end()
      await Promise.all(children.map(({ exited }) => exited))
    }
  }, 60_000)
})
