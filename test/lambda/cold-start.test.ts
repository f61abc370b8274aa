/**
 * A function's cold start (src/serverless/cold-start.ts): the gateway is built once for every invocation of an
 * instance, and a start that failed is tried again by the next invocation instead of failing the instance for good.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { coldStart, type ColdStart } from '../../src/serverless/cold-start.ts'
import { silentLogger } from '../../src/log.ts'
import { SECRET } from '../support/hooks.ts'
import { tempDir } from '../support/files.ts'

const cleanup: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step()
})

/** Collects what is printed on stderr while `run` runs. */
async function stderrOf<T>(run: () => Promise<T>): Promise<{ result: PromiseSettledResult<T>; printed: string[] }> {
  const printed: string[] = []
  const original = console.error
  console.error = (line: unknown) => {
    printed.push(String(line))
  }
  try {
    const [result] = await Promise.allSettled([run()])
    return { result: result!, printed }
  } finally {
    console.error = original
  }
}

function setup(): { start: ColdStart; file: string; dir: string } {
  const dir = tempDir('hookcast-cold-start-')
  const file = join(dir.path, 'hookcast.yaml')
  const start = coldStart({ HOOKCAST_CONFIG: file, MILLICAST_WEBHOOK_SECRET: SECRET }, { log: silentLogger })
  cleanup.push(dir.remove, () => start.close())
  return { start, file, dir: dir.path }
}

const CONFIG = (dir: string) => `
sources:
  millicast: { path: /hooks/millicast, secrets: ["\${MILLICAST_WEBHOOK_SECRET}"] }
sinks:
  disk: { type: fs, dir: "${join(dir, 'data')}" }
routes:
  - to: [disk]
spool: { dir: "${join(dir, 'spool')}" }
`

describe('coldStart', () => {
  it('builds the gateway once, for calls at the same time and later ones', async () => {
    const { start, file, dir } = setup()
    writeFileSync(file, CONFIG(dir))
    const [a, b] = await Promise.all([start.gateway(), start.gateway()])
    expect(a).toBe(b)
    expect(await start.gateway()).toBe(a)
  })

  it('prints why a start failed, and starts again at the next call', async () => {
    const { start, file, dir } = setup()
    const failed = await stderrOf(() => start.gateway())
    expect(failed.result.status).toBe('rejected')
    expect(failed.printed.join('\n')).toContain(file) // the config file that could not be read

    writeFileSync(file, CONFIG(dir))
    const gateway = await start.gateway()
    expect(gateway.gateway.destinations.has('disk')).toBe(true)
  })

  it('refuses a malformed deadline setting at the start, as a config problem', async () => {
    const dir = tempDir('hookcast-cold-start-')
    cleanup.push(dir.remove)
    const file = join(dir.path, 'hookcast.yaml')
    writeFileSync(file, CONFIG(dir.path))
    const env = { HOOKCAST_CONFIG: file, MILLICAST_WEBHOOK_SECRET: SECRET, HOOKCAST_SCHEDULED_WITHIN: 'later' }
    const start = coldStart(env, { log: silentLogger })
    cleanup.push(() => start.close())
    const failed = await stderrOf(() => start.gateway())
    expect(failed.result.status).toBe('rejected')
    expect(failed.printed.join('\n')).toContain('$HOOKCAST_SCHEDULED_WITHIN')
  })
})
