import { afterEach, describe, expect, it, vi } from 'vitest'
import { createLogger, flushLogs } from '../src/log.ts'

describe('logger', () => {
  afterEach(() => vi.restoreAllMocks())

  it('gathers info lines into one write per turn, in order, and writes warnings at once after them', async () => {
    const writes: string[] = []
    vi.spyOn(console, 'log').mockImplementation((text: string) => {
      writes.push(text)
    })
    const log = createLogger('info')
    log.debug('hidden')
    log.info('one', { n: 1 })
    log.info('two', { n: 2 })
    expect(writes).toEqual([])
    log.warn('three')
    expect(writes.length).toBe(2)
    expect(writes[0]!.split('\n').map((line) => JSON.parse(line).msg)).toEqual(['one', 'two'])
    expect(JSON.parse(writes[1]!)).toMatchObject({ level: 'warn', msg: 'three' })
    log.info('four')
    await new Promise((resolve) => setImmediate(resolve))
    expect(JSON.parse(writes[2]!)).toMatchObject({ level: 'info', msg: 'four' })
    log.info('five')
    flushLogs()
    expect(JSON.parse(writes[3]!).msg).toBe('five')
  })

  it('hands every line to a given writer as it comes', () => {
    const lines: string[] = []
    const log = createLogger('debug', (line) => lines.push(line))
    log.debug('a', { x: 1 })
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'debug', msg: 'a', x: 1 })
  })
})
