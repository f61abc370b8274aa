/** Looking at thumbnails: stale ones skipped, one look per stream at a time, undecodable ones logged once per session. */
import { describe, expect, it } from 'vitest'
import { pictureLooks, type AnalysisOutcome } from '../../src/streams/picture-looks.ts'
import type { PictureAnalysis } from '../../src/health/picture.ts'
import { createLogger } from '../../src/log.ts'

const SAMPLE: PictureAnalysis = { meanLuma: 100, darkFraction: 0, grid: new Uint8Array(64 * 36).fill(100) }
const thumbnail = (streamId: string, timestamp: number, session = `${streamId}@1`, lastLookedAt?: number) => ({
  streamId,
  session,
  eventId: `${streamId}-${timestamp}`,
  timestamp,
  lastLookedAt,
})

function setup(analyse: (jpeg: Uint8Array) => Promise<PictureAnalysis>) {
  const counted: AnalysisOutcome[] = []
  const lines: string[] = []
  const looks = pictureLooks({
    analyse,
    log: createLogger('warn', (line) => lines.push(line)),
    count: (outcome) => counted.push(outcome),
  })
  return { looks, counted, lines }
}

describe('picture looks', () => {
  it('a thumbnail not newer than the last one looked at is skipped, and counted', async () => {
    const { looks, counted } = setup(async () => SAMPLE)
    expect(await looks.look(thumbnail('a/s', 10, undefined, 20), new Uint8Array())).toBeUndefined()
    expect(await looks.look(thumbnail('a/s', 20, undefined, 20), new Uint8Array())).toBeUndefined()
    expect(await looks.look(thumbnail('a/s', 30, undefined, 20), new Uint8Array())).toEqual(SAMPLE)
    expect(counted).toEqual(['skipped_stale', 'skipped_stale', 'analysed'])
  })

  it('one look per stream at a time; another stream is looked at meanwhile', async () => {
    let release = () => {}
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const { looks, counted } = setup(async () => {
      await gate
      return SAMPLE
    })
    const first = looks.look(thumbnail('a/s', 1), new Uint8Array())
    expect(await looks.look(thumbnail('a/s', 2), new Uint8Array())).toBeUndefined()
    const other = looks.look(thumbnail('b/s', 1), new Uint8Array())
    release()
    expect(await first).toEqual(SAMPLE)
    expect(await other).toEqual(SAMPLE)
    expect(counted.sort()).toEqual(['analysed', 'analysed', 'skipped_busy'])
  })

  it('undecodable thumbnails are counted each time and logged once per stream and session', async () => {
    const { looks, counted, lines } = setup(async () => ({ undecodable: 'truncated' }))
    for (let i = 1; i <= 3; i++) await looks.look(thumbnail('a/s', i), new Uint8Array())
    await looks.look(thumbnail('b/s', 1), new Uint8Array())
    await looks.look(thumbnail('a/s', 9, 'a/s@2'), new Uint8Array())
    expect(counted).toEqual(Array(5).fill('undecodable'))
    expect(lines.filter((line) => line.includes('cannot be decoded')).map((line) => JSON.parse(line).stream)).toEqual([
      'a/s',
      'b/s',
      'a/s',
    ])
  })

  it("the analyser's own busy and unavailable answers are counted, and nothing is looked at", async () => {
    const answers: PictureAnalysis[] = [{ skipped: 'busy' }, { unavailable: 'no sharp' }]
    const { looks, counted } = setup(async () => answers.shift()!)
    expect(await looks.look(thumbnail('a/s', 1), new Uint8Array())).toBeUndefined()
    expect(await looks.look(thumbnail('a/s', 2), new Uint8Array())).toBeUndefined()
    expect(counted).toEqual(['skipped_busy', 'unavailable'])
  })
})
