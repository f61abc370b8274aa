/**
 * Stream health in the words alerts use: durations as an operator says them, the problem's name with the configured
 * quiet time, recoveries, and why a session ended.
 */
import { describe, expect, it } from 'vitest'
import { endedByWords, problemWords, recoveredWords, spokenDuration } from '../../src/notifiers/health-words.ts'

describe('health words', () => {
  it('says durations plainly', () => {
    expect(spokenDuration(90_000)).toBe('90 s')
    expect(spokenDuration(150_000)).toBe('2 min 30 s')
    expect(spokenDuration(45_400)).toBe('45 s')
    expect(spokenDuration(120_000)).toBe('2 min')
    expect(spokenDuration(3_900_000)).toBe('1 h 5 min')
    expect(spokenDuration(7_200_000)).toBe('2 h')
    expect(spokenDuration(2 * 86_400_000 + 3 * 3_600_000)).toBe('2 d 3 h')
    expect(spokenDuration(-5)).toBe('0 s')
  })

  it('names problems, with the configured quiet time rather than the measured one', () => {
    expect(problemWords('black', {})).toBe('black picture')
    expect(problemWords('frozen', {})).toBe('frozen picture')
    expect(problemWords('quiet', { quietAfterMs: 90_000 }, { silentMs: 91_234 })).toBe('no thumbnails for 90 s')
    expect(problemWords('quiet', {}, { silentMs: 31_234 })).toBe('no thumbnails for 31 s')
    expect(problemWords('quiet', {})).toBe('no thumbnails')
  })

  it('names recoveries and an end by silence', () => {
    expect(recoveredWords('black', 120_000)).toBe('picture recovered after 2 min')
    expect(recoveredWords('quiet', 95_000)).toBe('thumbnails back after 95 s')
    expect(recoveredWords('frozen', undefined)).toBe('picture recovered')
    expect(endedByWords('silence', { endAfterSilenceMs: 600_000 })).toBe('no hooks for 10 min')
    expect(endedByWords('hook', { endAfterSilenceMs: 600_000 })).toBeUndefined()
  })
})
