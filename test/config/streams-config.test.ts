/** The `streams` section's silence, thumbnail wait and picture health settings: defaults, off, and bad values. */
import { describe, expect, it } from 'vitest'
import { ConfigError, parseConfig } from '../../src/config/load.ts'
import { SECRET } from '../support/hooks.ts'

const config = (streams: string) =>
  parseConfig(
    `
sources:
  millicast: { path: /hooks/millicast, secrets: ["${SECRET}"] }
sinks:
  disk: { type: fs, dir: ./data }
routes:
  - when: {}
    to: [disk]
${streams}
`,
    {},
  )

function problems(streams: string): string[] {
  try {
    config(streams)
  } catch (error) {
    if (error instanceof ConfigError) return error.problems
    throw error
  }
  throw new Error('config was accepted')
}

describe('streams config', () => {
  it('defaults: silence ends a session after 10 minutes, live waits 45 s, every health default', () => {
    expect(config('').streams).toMatchObject({
      endAfterSilence: 600_000,
      thumbnailWait: 45_000,
      health: {
        black: { after: 2, darkFraction: 0.95 },
        frozen: { after: 3, tolerance: 10 },
        quiet: { after: 90_000 },
        recoverAfter: 2,
      },
    })
  })

  it('takes durations and a partial health section; false turns silence and health off', () => {
    const tuned = config('streams: { endAfterSilence: 2m, thumbnailWait: 0s, health: { frozen: { tolerance: 6 } } }')
    expect(tuned.streams).toMatchObject({
      endAfterSilence: 120_000,
      thumbnailWait: 0,
      health: { black: { after: 2 }, frozen: { after: 3, tolerance: 6 }, recoverAfter: 2 },
    })
    const off = config('streams: { endAfterSilence: false, health: false }')
    expect(off.streams.endAfterSilence).toBe(false)
    expect(off.streams.health).toBe(false)
  })

  it('names the YAML path of a bad value', () => {
    expect(problems('streams: { health: { black: { after: 0 } } }').join('\n')).toMatch(/streams\.health/)
    expect(problems('streams: { health: { quiet: { after: soon } } }').join('\n')).toMatch(/streams\.health/)
    expect(problems('streams: { endAfterSilence: true }').join('\n')).toMatch(/streams\.endAfterSilence/)
    expect(problems('streams: { health: { frozen: { after: 1 } } }').join('\n')).toMatch(/streams\.health/)
  })
})
