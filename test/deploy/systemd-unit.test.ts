/**
 * deploy/hookcast.service: the restart and stop behaviour the durability promise assumes (always started again; a
 * stop that waits out the drain), checked in the file and by `systemd-analyze verify` where it is installed.
 */
import { describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { parseConfig } from '../../src/config/load.ts'
import { parseDuration } from '../../src/config/units.ts'
import { ROOT } from '../support/runtimes.ts'
import { skipWhen } from '../support/skip.ts'

const run = promisify(execFile)
const text = readFileSync(join(ROOT, 'deploy/hookcast.service'), 'utf8')
const noAnalyze = await run('systemd-analyze', ['--version']).then(
  () => undefined,
  () => 'systemd-analyze is not installed',
)

/** The unit's settings by section, each key with its values in order. */
function settings(unit: string): Record<string, Record<string, string[]>> {
  const sections: Record<string, Record<string, string[]>> = {}
  let section: Record<string, string[]> = {}
  for (const line of unit.split('\n')) {
    const header = /^\[(\w+)\]$/.exec(line)
    if (header) sections[header[1]!] = section = {}
    const pair = /^(\w+)=(.*)$/.exec(line)
    if (pair) (section[pair[1]!] ??= []).push(pair[2]!)
  }
  return sections
}
const unit = settings(text)
const service = unit.Service!
const one = (key: string) => service[key]?.at(-1)

describe('deploy/hookcast.service', () => {
  it('starts the gateway again whenever it stops, with no limit on how often', () => {
    expect(one('Restart')).toBe('always')
    expect(unit.Unit?.StartLimitIntervalSec).toEqual(['0'])
  })

  it("stops with SIGTERM and waits longer than the gateway's drain and its own forced exit", () => {
    const grace = parseConfig(readFileSync(join(ROOT, 'config.example.yaml'), 'utf8'), {}).server.shutdownGrace
    expect(one('KillSignal')).toBe('SIGTERM')
    expect(parseDuration(one('TimeoutStopSec')!)).toBeGreaterThan(grace + 5_000) // start.ts exits at grace + 5 s
  })

  it('runs the built JavaScript as a user of its own, in a state directory that holds data and spool', () => {
    expect(one('ExecStart')).toMatch(/^\/usr\/bin\/node \/opt\/hookcast\/dist\/node\/adapters\/node\.js /)
    const start = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.start as string
    expect(start).toBe('node dist/node/adapters/node.js') // the same entry as npm start
    expect(one('User')).toBe('hookcast')
    expect(one('StateDirectory')?.split(' ')).toEqual(['hookcast', 'hookcast/data', 'hookcast/spool'])
    expect(one('WorkingDirectory')).toBe('/var/lib/hookcast')
  })

  it('passes systemd-analyze verify without a warning', skipWhen(noAnalyze), async () => {
    // verify checks that ExecStart's program exists: this machine's node stands in for /usr/bin/node.
    const dir = mkdtempSync(join(tmpdir(), 'hookcast-unit-'))
    try {
      const path = join(dir, 'hookcast.service')
      writeFileSync(path, text.replace('ExecStart=/usr/bin/node ', `ExecStart=${process.execPath} `))
      const { stderr } = await run('systemd-analyze', ['verify', path])
      expect(stderr).toBe('') // unknown keys and bad values are warnings on stderr, with exit status 0
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
