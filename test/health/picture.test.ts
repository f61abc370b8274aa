/**
 * Picture health (src/health/picture.ts) on real JPEG sequences made from a seed (test/support/pictures.ts): each
 * kind of picture gets the right verdicts with the default thresholds, broken input comes back undecodable without a
 * throw, a missing sharp is reported once, and the module runs on Bun and Deno as well.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import {
  createPictureAnalyser,
  gridFromText,
  gridText,
  isBlack,
  isUnchanged,
  pictureChange,
  type PictureAnalysis,
  type PictureSample,
} from '../../src/health/picture.ts'
import { silentLogger, type Logger } from '../../src/log.ts'
import { tempDir } from '../support/files.ts'
import { pictureFixtures, type PictureFixtures } from '../support/pictures.ts'
import { ROOT } from '../support/runtimes.ts'

const run = promisify(execFile)

/** What each sequence must give: black or not (every thumbnail), unchanged or not (every thumbnail from the last). */
const EXPECTED = {
  varied: { black: false, unchanged: false },
  variedFullHd: { black: false, unchanged: false },
  black: { black: true, unchanged: true },
  dim: { black: false, unchanged: true },
  reencoded: { black: false, unchanged: true },
  still: { black: false, unchanged: true },
  stillFullHd: { black: false, unchanged: true },
  clock: { black: false, unchanged: false },
  ticker: { black: false, unchanged: false },
  presenter: { black: false, unchanged: false },
} as const

let fixtures: PictureFixtures
const analyse = createPictureAnalyser({ logger: silentLogger, maxInFlight: Number.POSITIVE_INFINITY })

function sampleOf(result: PictureAnalysis): PictureSample {
  if (!('grid' in result)) throw new Error(`not analysed: ${JSON.stringify(result)}`)
  return result
}

const samplesOf = async (jpegs: Uint8Array[]) => (await Promise.all(jpegs.map(analyse))).map(sampleOf)
const changesOf = (samples: PictureSample[]) => samples.slice(1).map((s, i) => pictureChange(samples[i]!.grid, s.grid))

beforeAll(async () => {
  fixtures = await pictureFixtures()
})

describe('picture health verdicts with the default thresholds', () => {
  for (const [name, expected] of Object.entries(EXPECTED)) {
    const verdicts = `${expected.black ? 'black' : 'not black'}, ${expected.unchanged ? 'unchanged' : 'changed'}`
    it(`${name}: ${verdicts}`, async () => {
      const samples = await samplesOf(fixtures[name as keyof typeof EXPECTED])
      expect(samples.map((sample) => isBlack(sample))).toEqual(samples.map(() => expected.black))
      const changes = changesOf(samples)
      expect(changes.map((change) => isUnchanged(change))).toEqual(changes.map(() => expected.unchanged))
    })
  }

  it('measures luma: black near video black, every cell dark; a new scene brighter, almost none dark', async () => {
    const [black] = await samplesOf(fixtures.black)
    const [scene] = await samplesOf(fixtures.varied)
    expect(black!.meanLuma).toBeGreaterThanOrEqual(12)
    expect(black!.meanLuma).toBeLessThanOrEqual(24)
    expect(black!.darkFraction).toBe(1)
    expect(scene!.meanLuma).toBeGreaterThan(48)
    expect(scene!.darkFraction).toBeLessThan(0.5)
  })

  it('takes its thresholds from the caller', async () => {
    const [dim] = await samplesOf(fixtures.dim)
    expect(isBlack(dim!)).toBe(false)
    expect(isBlack(dim!, { darkFraction: dim!.darkFraction })).toBe(true)
    const [change] = changesOf(await samplesOf(fixtures.clock.slice(0, 2)))
    expect(isUnchanged(change!)).toBe(false)
    expect(isUnchanged(change!, { tolerance: change })).toBe(true)
  })

  it('decodes progressive and CMYK JPEGs (libvips reads both)', async () => {
    for (const jpeg of [fixtures.progressive, fixtures.cmyk]) {
      const sample = sampleOf(await analyse(jpeg))
      expect(isBlack(sample)).toBe(false)
      expect(sample.meanLuma).toBeGreaterThan(32)
    }
  })

  it('answers undecodable, without a throw, for a truncated JPEG and for what is no JPEG', async () => {
    for (const [name, bytes] of Object.entries(fixtures.broken)) {
      const result = await analyse(bytes)
      expect(result, name).toHaveProperty('undecodable')
      expect((result as { undecodable: string }).undecodable, name).not.toBe('')
    }
  })
})

describe('the grid in a stream record', () => {
  it('round-trips through its stored text, at most 3,072 characters', async () => {
    const [sample] = await samplesOf(fixtures.varied)
    const text = gridText(sample!.grid)
    expect(text.length).toBeLessThanOrEqual(3072)
    expect(gridFromText(text)).toEqual(sample!.grid)
  })

  it('reads text that is not a grid as none, and a grid of another size as changed', () => {
    expect(gridFromText('not base64!')).toBeUndefined()
    expect(gridFromText(gridText(new Uint8Array(100)))).toBeUndefined()
    expect(pictureChange(new Uint8Array(100), new Uint8Array(64 * 36))).toBe(255)
  })
})

describe('the analyser', () => {
  it('reports once when sharp cannot load, and answers unavailable every time', async () => {
    const warnings: string[] = []
    const logger: Logger = { ...silentLogger, warn: (message) => warnings.push(message) }
    let loads = 0
    const analyseWithout = createPictureAnalyser({
      logger,
      load: async () => {
        loads++
        throw new Error('Could not load the "sharp" module using the linux-x64 runtime')
      },
    })
    const results = [await analyseWithout(fixtures.varied[0]!), await analyseWithout(fixtures.varied[1]!)]
    expect(results.map((result) => 'unavailable' in result)).toEqual([true, true])
    expect(loads).toBe(1)
    expect(warnings).toEqual(['picture health is off'])
  })

  it('skips a thumbnail that arrives while maxInFlight analyses run, and looks at the next one after', async () => {
    const one = createPictureAnalyser({ logger: silentLogger, maxInFlight: 1 })
    const first = one(fixtures.varied[0]!)
    expect(await one(fixtures.varied[1]!)).toEqual({ skipped: 'busy' })
    expect(await first).toHaveProperty('grid')
    expect(await one(fixtures.varied[2]!)).toHaveProperty('grid')
  })
})

describe('on Bun and Deno', () => {
  const dir = tempDir('hookcast-picture-')
  let files: string[] = []
  beforeAll(() => {
    const jpegs = [fixtures.black[0]!, fixtures.reencoded[0]!, fixtures.reencoded[1]!, fixtures.clock[1]!]
    files = jpegs.map((_, i) => join(dir.path, `${i}.jpg`))
    for (const [i, jpeg] of jpegs.entries()) writeFileSync(files[i]!, jpeg)
    return () => dir.remove()
  })
  const expected = { black: [true, false, false, false], unchanged: [false, true, false] }
  const script = 'test/health/picture-verdicts.ts'

  it('Bun analyses thumbnails with the same verdicts', async () => {
    const { stdout } = await run(`${ROOT}node_modules/.bin/bun`, [script, ...files], { cwd: ROOT, timeout: 60_000 })
    expect(JSON.parse(stdout)).toEqual(expected)
  }, 90_000)

  it("Deno analyses thumbnails with the same verdicts, with start:deno's permissions", async () => {
    const { scripts } = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { scripts: Record<string, string> }
    // All of start:deno's flags but where it may write: this script writes nothing.
    const flags = scripts['start:deno']!.split(/\s+/).filter(
      (word) => word.startsWith('--') && !word.startsWith('--allow-write'),
    )
    const { stdout } = await run(`${ROOT}node_modules/.bin/deno`, ['run', ...flags, script, ...files], {
      cwd: ROOT,
      timeout: 60_000,
      env: { ...process.env, NO_COLOR: '1' },
    })
    expect(JSON.parse(stdout)).toEqual(expected)
  }, 90_000)
})
