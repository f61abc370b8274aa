import { describe, expect, it } from 'vitest'
import { DEFAULT_KEY, keyTemplateProblems, renderKey } from '../../src/template/key.ts'
import { renderText } from '../../src/template/placeholders.ts'
import { makeEvent } from '../support/events.ts'

const event = makeEvent

describe('key templates', () => {
  it('renders every placeholder', () => {
    expect(renderKey(DEFAULT_KEY, event())).toBe('thumbnail/ZG6NWV/lobby/2023-03-28/1679974440650-thumbnail-abc123.jpg')
    expect(renderKey('{source}/{accountId}/{streamName}/{feedId}/{tokenId}/{date}T{time}.{ext}', event({ contentType: 'application/json' })))
      .toBe('millicast/ZG6NWV/lobby/f-1/_/2023-03-28T033400.json')
  })

  it('cannot be steered out of its directory by values', () => {
    const hostile = event({ streamId: '../../etc', streamName: '..', feedId: 'a/../../b', accountId: '/abs' })
    for (const key of [renderKey(DEFAULT_KEY, hostile), renderKey('{streamName}/{feedId}/{accountId}', hostile)]) {
      expect(key.split('/')).not.toContain('..')
      expect(key.startsWith('/')).toBe(false)
    }
    expect(renderKey('{streamName}/{feedId}', hostile)).toBe('%2E./a%2F..%2F..%2Fb')
  })

  it('never lets a value make a hidden name, such as the fs sink\'s own temp folder', () => {
    const replayed = event({ streamId: '.hookcast-tmp/x', accountId: '.hookcast-tmp', streamName: '.x' })
    expect(renderKey('{streamId}/latest.{ext}', replayed)).toBe('%2Ehookcast-tmp/x/latest.jpg')
    expect(renderKey('{accountId}/{streamName}', replayed)).toBe('%2Ehookcast-tmp/%2Ex')
    expect(keyTemplateProblems('.hookcast-tmp/{id}')).toEqual(['a key may not use .hookcast names (hookcast\'s own files)'])
  })

  it('renders a key without a date for a time no date can show', () => {
    expect(renderKey('{date}/{time}/{id}', event({ timestamp: -1e20 }))).toBe('_/_/abc123')
  })

  it('reports unknown placeholders and unsafe literal parts', () => {
    expect(keyTemplateProblems(DEFAULT_KEY)).toEqual([])
    expect(keyTemplateProblems('/{nope}/../x')).toEqual([
      'unknown placeholder {nope}', 'a key must be relative (no leading /)', 'a key may not contain . or .. segments',
    ])
  })

  it('renders message text without sanitising, with a marker for missing values', () => {
    expect(renderText('{streamName} ({accountId}) {feedId} {tokenId}', event({ streamName: 'my show' }))).toBe('my show (ZG6NWV) f-1 -')
  })
})
