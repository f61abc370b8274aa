/**
 * The route gate Bun's entry serves the app through: the app's routes as a router that matches the target as sent
 * sees them, the path as sent rebuilt from a route's parameters, and the answer to a target that names no route.
 * The runtimes' tests send the same paths to a real Bun.
 */
import { describe, expect, it } from 'vitest'
import { Hono } from 'hono'
import { assertPlainPath } from '../../src/http/plain-path.ts'
import { routeGate } from '../../src/http/route-gate.ts'

const app = new Hono()
app.use('/api/*', async (_c, next) => next())
app.get('/healthz', (c) => c.text('ok'))
app.post('/hooks/millicast', (c) => c.text('hook'))
app.all('/hooks/millicast', (c) => c.text('405'))
app.get('/api/streams/:stream/thumbnail', (c) => c.text('one segment'))
app.get('/api/streams/:account/:name/thumbnail', (c) => c.text('two segments'))
app.get('/v1.0/x', (c) => c.text('dotted'))

const gate = routeGate(app.routes)
const route = (path: string) => gate.routes.find((r) => r.path === path)!
const answer = async (url: string) => {
  const response = gate.unrouted(url)
  return { status: response.status, error: ((await response.json()) as { error: string }).error }
}

describe('routeGate', () => {
  it('lists each of the app paths once, without middleware patterns', () => {
    expect(gate.routes.map((r) => r.path)).toEqual([
      '/healthz',
      '/hooks/millicast',
      '/api/streams/:stream/thumbnail',
      '/api/streams/:account/:name/thumbnail',
      '/v1.0/x',
    ])
  })

  it('rebuilds the path as sent from the parameters, so the dot-segment check sees them', () => {
    expect(route('/healthz').rawPath({})).toBe('/healthz')
    const one = route('/api/streams/:stream/thumbnail')
    expect(one.rawPath({ stream: 'acc/cam' })).toBe('/api/streams/acc%2Fcam/thumbnail')
    expect(route('/api/streams/:account/:name/thumbnail').rawPath({ account: 'acc', name: 'cam 1' })).toBe(
      '/api/streams/acc/cam%201/thumbnail',
    )
    // A parameter Bun decoded from `..%2f..` comes back encoded: the check decodes %2f and refuses it.
    const sneaky = one.rawPath({ stream: '../..' })
    expect(sneaky).toBe('/api/streams/..%2F../thumbnail')
    expect(() => assertPlainPath(sneaky)).toThrow(expect.objectContaining({ reason: 'bad_path' }))
  })

  it('answers 404 for a path that names no route', async () => {
    expect(await answer('http://h/nowhere')).toEqual({ status: 404, error: 'not_found' })
    expect(await answer('http://h/api/streams')).toEqual({ status: 404, error: 'not_found' })
    expect(await answer('http://h/v1x0/x')).toEqual({ status: 404, error: 'not_found' }) // a dot is no wildcard
  })

  it('answers 400 for a resolved URL that names a route: the target reached it through dot segments', async () => {
    expect(await answer('http://h/healthz')).toEqual({ status: 400, error: 'bad_path' })
    expect(await answer('http://h/api/streams/acc/cam/thumbnail')).toEqual({ status: 400, error: 'bad_path' })
    expect(await answer('http://h/v1.0/x?q=1')).toEqual({ status: 400, error: 'bad_path' })
  })

  it('answers 400 for a resolved URL that still has encoded dot segments', async () => {
    expect(await answer('http://h/a/..%2fb')).toEqual({ status: 400, error: 'bad_path' })
    expect(await answer('http://h/a/%5cb')).toEqual({ status: 400, error: 'bad_path' })
  })
})
