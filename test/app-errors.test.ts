/** The one place errors become answers: a known error its status, anything else a 500 that is logged. */
import { describe, expect, it } from 'vitest'
import { createApp } from '../src/app.ts'
import type { Ingest } from '../src/ingest.ts'
import { createLogger } from '../src/log.ts'
import { HttpError } from '../src/http/errors.ts'

function appThrowing(error: unknown, lines: string[]) {
  return createApp({
    sources: [],
    ingest: {} as Ingest, // no source: ingest is never called
    log: createLogger('debug', (line) => lines.push(line)),
    extend(app) {
      app.get('/boom', () => {
        throw error
      })
    },
  })
}

describe('app errors', () => {
  it('answers an unexpected error with 500 and logs it, with the path but not its query', async () => {
    const lines: string[] = []
    const response = await appThrowing(new Error('disk on fire'), lines).fetch(
      new Request('http://hookcast.test/boom?sig=secret-signature'),
    )
    expect(response.status).toBe(500)
    expect(await response.json()).toMatchObject({ error: 'internal_error' })
    const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(logged).toEqual([
      expect.objectContaining({ msg: 'unexpected error answering a request', path: '/boom', error: 'disk on fire' }),
    ])
    expect(lines.join('\n')).not.toContain('secret-signature')
  })

  it('answers a known error with its own status and logs nothing', async () => {
    const lines: string[] = []
    const response = await appThrowing(new HttpError(409, 'conflict', 'taken'), lines).fetch(
      new Request('http://hookcast.test/boom'),
    )
    expect(response.status).toBe(409)
    expect(lines).toEqual([])
  })
})
