import { describe, expect, it } from 'vitest'
import { compileRoutes, route } from '../../src/routing/router.ts'
import { globToRegExp } from '../../src/routing/glob.ts'
import type { HookEvent } from '../../src/events/types.ts'
import { makeEvent } from '../support/events.ts'
import type { RouteConfig } from '../../src/config/config-schema.ts'

const event = (fields: Partial<HookEvent>) => makeEvent({ type: 'feeds', event: 'started', ...fields })
const routes = (...list: Array<[RouteConfig['when'], string[]]>) =>
  compileRoutes(list.map(([when, to]) => ({ when, to })))

describe('router', () => {
  it('matches on type, event, stream and source, and fans out to each destination once', () => {
    const compiled = routes(
      [{ type: ['thumbnail'] }, ['disk']],
      [{ type: ['feeds'], event: ['started', 'ended'], stream: ['ZG6NWV/*'] }, ['disk', 'slack']],
      [{}, ['archive', 'disk']],
      [{ source: ['other'] }, ['never']],
    )
    expect(route(event({}), compiled)).toEqual(['disk', 'slack', 'archive'])
    expect(route(event({ type: 'thumbnail', event: 'thumbnail' }), compiled)).toEqual(['disk', 'archive'])
    expect(route(event({ streamId: 'OTHER/lobby' }), compiled)).toEqual(['archive', 'disk'])
    expect(route(event({ event: 'ended' }), compiled)).toEqual(['disk', 'slack', 'archive'])
    expect(route(event({ source: 'other' }), compiled)).toEqual(['disk', 'slack', 'archive', 'never'])
  })

  it('matches kinds and events case-insensitively', () => {
    const compiled = routes([{ type: ['VIEWERCONNECTION'], event: ['viewerattempt'] }, ['a']])
    expect(route(event({ type: 'viewerConnection', event: 'ViewerAttempt' }), compiled)).toEqual(['a'])
  })

  it('does not match a stream filter when the event has no stream', () => {
    const compiled = routes([{ stream: ['**'] }, ['a']])
    expect(route(event({ streamId: undefined, streamName: undefined }), compiled)).toEqual([])
    expect(route(event({ streamId: undefined, streamName: 'testy' }), compiled)).toEqual(['a'])
  })

  it('sends stream lifecycle events only to routes that name the stream type', () => {
    const compiled = routes([{}, ['archive']], [{ type: ['stream'], event: ['live'] }, ['slack']])
    expect(route(event({ type: 'stream', event: 'live' }), compiled)).toEqual(['slack'])
    expect(route(event({ type: 'stream', event: 'ended' }), compiled)).toEqual([])
  })

  it('returns nothing when no route matches', () => {
    expect(route(event({}), routes([{ type: ['media'] }, ['a']]))).toEqual([])
  })
})

describe('globToRegExp', () => {
  it('* stays within a part, ** crosses parts, ? is one character, the rest is literal', () => {
    expect(globToRegExp('ZG6NWV/*').test('ZG6NWV/lobby')).toBe(true)
    expect(globToRegExp('ZG6NWV/*').test('ZG6NWV/a/b')).toBe(false)
    expect(globToRegExp('*').test('ZG6NWV/lobby')).toBe(false)
    expect(globToRegExp('**').test('ZG6NWV/lobby')).toBe(true)
    expect(globToRegExp('*/cam-?').test('A/cam-1')).toBe(true)
    expect(globToRegExp('a.b/c+d').test('axb/c+d')).toBe(false)
    expect(globToRegExp('a.b/c+d').test('a.b/c+d')).toBe(true)
  })
})
