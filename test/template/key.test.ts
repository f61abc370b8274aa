import { describe, expect, it } from 'vitest'
import { DEFAULT_KEY, keyTemplateProblems, renderKey } from '../../src/template/key.ts'
import { renderText } from '../../src/template/placeholders.ts'
import { makeEvent } from '../support/events.ts'

const event = makeEvent

describe('key templates', () => {
  it('renders every placeholder', () => {
    expect(renderKey(DEFAULT_KEY, event())).toBe('thumbnail/ZG6NWV/lobby/2023-03-28/1679974440650-thumbnail-abc123.jpg')
    expect(
      renderKey(
        '{source}/{accountId}/{streamName}/{feedId}/{tokenId}/{date}T{time}.{ext}',
        event({ contentType: 'application/json' }),
      ),
    ).toBe('millicast/ZG6NWV/lobby/f-1/_/2023-03-28T033400.json')
  })

  it('cannot be steered out of its directory by values', () => {
    const hostile = event({ streamId: '../../etc', streamName: '..', feedId: 'a/../../b', accountId: '/abs' })
    for (const key of [renderKey(DEFAULT_KEY, hostile), renderKey('{streamName}/{feedId}/{accountId}', hostile)]) {
      expect(key.split('/')).not.toContain('..')
      expect(key.startsWith('/')).toBe(false)
    }
    expect(renderKey('{streamName}/{feedId}', hostile)).toBe('%2E./a%2F..%2F..%2Fb')
  })

  it("never lets a value make a hidden name, such as the fs sink's own temp folder", () => {
    const replayed = event({ streamId: '.hookcast-tmp/x', accountId: '.hookcast-tmp', streamName: '.x' })
    expect(renderKey('{streamId}/latest.{ext}', replayed)).toBe('%2Ehookcast-tmp/x/latest.jpg')
    expect(renderKey('{accountId}/{streamName}', replayed)).toBe('%2Ehookcast-tmp/%2Ex')
    expect(keyTemplateProblems('.hookcast-tmp/{id}')).toEqual([
      "a key may not use .hookcast names (hookcast's own files)",
    ])
  })

  it('renders a key without a date for a time no date can show', () => {
    expect(renderKey('{date}/{time}/{id}', event({ timestamp: -1e20 }))).toBe('_/_/abc123')
  })

  it('reports unknown placeholders and unsafe literal parts', () => {
    expect(keyTemplateProblems(DEFAULT_KEY)).toEqual([])
    expect(keyTemplateProblems('/{nope}/../x')).toEqual([
      'unknown placeholder {nope}',
      'a key must be relative (no leading /)',
      'a key may not contain . or .. segments',
    ])
  })

  it('renders message text without sanitising, with a marker for missing values', () => {
    expect(renderText('{streamName} ({accountId}) {feedId} {tokenId}', event({ streamName: 'my show' }))).toBe(
      'my show (ZG6NWV) f-1 -',
    )
  })
})

/** Every string of up to `length` characters over `alphabet`, the empty one included. */
function allStrings(alphabet: readonly string[], length: number): string[] {
  let level = ['']
  const out = ['']
  for (let i = 0; i < length; i++) {
    level = level.flatMap((prefix) => alphabet.map((char) => prefix + char))
    out.push(...level)
  }
  return out
}

/** Characters the old cleaning merged into `_` (or kept as `_`), with the escape's own, a dot and lone surrogates. */
const MERGED = ['a', '_', '+', ' ', '/', '.', '%', '~', 'é', '日', '\ud800', '\ufffd']

describe('key values (issue 20, item 2)', () => {
  it('gives different values different names: no two streams share a folder', () => {
    const byKey = new Map<string, string | undefined>()
    for (const name of [undefined, ...allStrings(MERGED, 3)]) {
      const key = renderKey('{streamName}/{id}', event({ streamName: name }))
      expect(
        byKey.get(key),
        `${JSON.stringify(name)} and ${JSON.stringify(byKey.get(key))} give ${key}`,
      ).toBeUndefined()
      byKey.set(key, name)
      expect(key.split('/')).toHaveLength(2)
    }
  })

  it("gives every stream id a folder of its own at one depth, none inside another's", () => {
    const folders = new Map<string, string | undefined>()
    for (const streamId of [undefined, ...allStrings(['a', '_', '/', '.', ' '], 4)]) {
      const folder = `${renderKey('{streamId}/{id}', event({ streamId })).split('/').slice(0, -1).join('/')}/`
      expect(
        folders.get(folder),
        `${JSON.stringify(streamId)} and ${JSON.stringify(folders.get(folder))} give ${folder}`,
      ).toBeUndefined()
      folders.set(folder, streamId)
    }
    const all = [...folders.keys()]
    for (const folder of all) {
      const inside = all.filter((other) => other !== folder && other.startsWith(folder))
      expect(inside, `inside ${folder} (stream ${JSON.stringify(folders.get(folder))})`).toEqual([])
    }
  })

  it("keys the issue's streams apart, and an id with extra slashes inside its own account folder", () => {
    const keys = ['ACME/a b', 'ACME/a+b', 'ACME/a_b', 'ACME/a/../../b', 'ACME/café', 'ACME/_', 'ACME', '/b'].map(
      (streamId) => renderKey('{streamId}/{id}', event({ streamId })),
    )
    expect(keys).toEqual([
      'ACME/a%20b/abc123',
      'ACME/a%2Bb/abc123',
      'ACME/a_b/abc123',
      'ACME/a%2F..%2F..%2Fb/abc123',
      'ACME/caf%C3%A9/abc123',
      'ACME/%5F/abc123',
      'ACME/_/abc123',
      '%2Fb/_/abc123',
    ])
  })

  it('keeps the keys of names made of safe characters as they were', () => {
    for (const name of ['sample_stream', 'ZG6NWV', 'my.show', 'cam-1@site=2', '_private', 'A'.repeat(200)]) {
      expect(renderKey('{accountId}/{streamName}/{id}', event({ accountId: name, streamName: name }))).toBe(
        `${name}/${name}/abc123`,
      )
    }
    expect(renderKey(DEFAULT_KEY, event({ streamId: 'ZG6NWV/sample_stream' }))).toBe(
      'thumbnail/ZG6NWV/sample_stream/2023-03-28/1679974440650-thumbnail-abc123.jpg',
    )
  })

  it('writes names that decode back to the value', () => {
    for (const name of ['a b', 'a+b', '100%', 'café 日本', '.hidden', '~tilde', 'emoji 😀']) {
      expect(decodeURIComponent(renderKey('{streamName}', event({ streamName: name })))).toBe(name)
    }
  })
})

describe('long keys (issue 20, item 3)', () => {
  const names = (key: string) => key.split('/')
  const bytes = (text: string) => new TextEncoder().encode(text).length

  it('shortens a name past 255 bytes with a hash of its longest value, keeping the rest and the extension', () => {
    const template = '{type}/{accountId}-{streamName}/{id}.{ext}'
    const long = event({ accountId: 'A'.repeat(120), streamName: 'n'.repeat(200) })
    const key = renderKey(template, long)
    expect(names(key).map(bytes)).toEqual([9, 255, 10])
    expect(names(key)[1]).toMatch(/^A{120}-n+~[0-9a-f]{24}$/)
    expect(renderKey(template, long)).toBe(key) // the same event, the same key
    // Values that differ only past the cut still get names of their own.
    expect(renderKey(template, { ...long, streamName: `${'n'.repeat(199)}m` })).not.toBe(key)
    expect(renderKey('{streamName}/{timestamp}-{id}.{ext}', event({ streamName: '日'.repeat(256) }))).toMatch(
      /^(%E6%97%A5)+~[0-9a-f]{24}\/1679974440650-abc123\.jpg$/,
    )
  })

  it('keeps a key within 1,024 bytes, shortening its last names first', () => {
    const huge = event({
      type: 'T'.repeat(1000),
      event: 'E'.repeat(1000),
      streamId: `${'é'.repeat(256)}/${'日'.repeat(256)}`,
    })
    const key = renderKey(DEFAULT_KEY, huge)
    expect(bytes(key)).toBeLessThanOrEqual(1024)
    expect(Math.max(...names(key).map(bytes))).toBeLessThanOrEqual(255)
    expect(names(key)[4]).toMatch(/^1679974440650-E+~[0-9a-f]{24}-abc123\.jpg$/)
    // The stream's folder is what a key short enough leaves it: the last name gave way.
    expect(names(key).slice(0, 3)).toEqual(names(renderKey('{type}/{streamId}/{id}', huge)).slice(0, 3))
    expect(bytes(names(key)[4]!)).toBeLessThan(255)
  })

  it('refuses a template whose own text leaves no room, naming the limit', () => {
    expect(keyTemplateProblems(`${'x'.repeat(240)}{streamName}/{id}`)).toEqual([
      'a name in the key can be 265 bytes even with its values shortened, more than the 255 a file system takes: shorten its fixed text',
    ])
    expect(keyTemplateProblems(`${Array.from({ length: 5 }, () => 'y'.repeat(200)).join('/')}/{id}.{ext}`)).toEqual([
      'the key can be 1034 bytes even with its values shortened, more than the 1024 S3 and GCS take: use fewer folders or less fixed text',
    ])
  })
})
