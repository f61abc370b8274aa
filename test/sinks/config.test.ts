/** Cloud sink and retention options in YAML: good ones parse with their defaults, bad ones fail naming the path. */
import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { ConfigError, parseConfig } from '../../src/config/load.ts'
import { SECRET } from '../support/hooks.ts'

const config = (sinks: string) => `
sources:
  millicast: { path: /hooks/millicast, secrets: ["${SECRET}"] }
sinks:
${sinks}
routes:
  - to: [pics]
`

function problems(sinks: string, env: Record<string, string> = {}): string[] {
  try {
    parseConfig(config(sinks), env)
  } catch (error) {
    if (error instanceof ConfigError) return error.problems
    throw error
  }
  throw new Error('config was accepted')
}

describe('cloud sink config', () => {
  it('parses s3 with credentials from the environment and fills the defaults', () => {
    const parsed = parseConfig(
      config(`
  pics:
    type: s3
    bucket: my-thumbs
    endpoint: http://127.0.0.1:9000
    accessKeyId: \${R2_KEY}
    secretAccessKey: \${R2_SECRET}
    storageClass: STANDARD_IA
    retention: { keepLatest: 100, maxAge: 7d, types: [thumbnail] }
`),
      { R2_KEY: 'key-id', R2_SECRET: 'secret' },
    )
    expect(parsed.sinks.pics).toEqual({
      type: 's3',
      bucket: 'my-thumbs',
      endpoint: 'http://127.0.0.1:9000',
      accessKeyId: 'key-id',
      secretAccessKey: 'secret',
      storageClass: 'STANDARD_IA',
      key: '{type}/{streamId}/{date}/{timestamp}-{event}-{id}.{ext}',
      urlExpiry: 7 * 86_400_000,
      retention: { keepLatest: 100, maxAge: 7 * 86_400_000, types: ['thumbnail'], sweepEvery: 300_000 },
    })
  })

  it('parses gcs with its defaults', () => {
    const parsed = parseConfig(
      config(`
  pics: { type: gcs, bucket: my-thumbs, publicBaseUrl: "https://cdn.example.com/thumbs/", retention: { maxAge: 2d, sweepEvery: 1m } }
`),
      {},
    )
    expect(parsed.sinks.pics).toEqual({
      type: 'gcs',
      bucket: 'my-thumbs',
      publicBaseUrl: 'https://cdn.example.com/thumbs',
      resumableAbove: 8 * 1024 * 1024,
      key: '{type}/{streamId}/{date}/{timestamp}-{event}-{id}.{ext}',
      urlExpiry: 7 * 86_400_000,
      retention: { maxAge: 2 * 86_400_000, sweepEvery: 60_000 },
    })
  })

  it('names every bad s3 option by its YAML path', () => {
    expect(
      problems(`
  pics:
    type: s3
    bucket: s3://my-thumbs
    urlExpiry: 8d
    acl: world-writable
    publicBaseUrl: not a url
`),
    ).toEqual([
      expect.stringMatching(/^sinks\.pics\.bucket: a bucket name/),
      expect.stringMatching(/^sinks\.pics\.acl: /),
      'sinks.pics.publicBaseUrl: an http(s) URL, e.g. https://cdn.example.com/thumbs',
      'sinks.pics.urlExpiry: between 1s and 7d (the longest a signed URL may live)',
    ])
    // Options that depend on each other are checked once each option is valid on its own.
    expect(
      problems(`
  pics: { type: s3, bucket: my-thumbs, accessKeyId: abc, profile: dev }
`),
    ).toEqual([
      'sinks.pics.region: required: the bucket\'s region, e.g. eu-west-1 (or "${AWS_REGION}")',
      'sinks.pics.secretAccessKey: set both accessKeyId and secretAccessKey (as "${VAR}"), or neither to use the AWS credential chain',
      'sinks.pics.profile: profile and accessKeyId exclude each other: pick one',
    ])
  })

  it('refuses unknown keys and a gcs endpoint that is not a URL', () => {
    expect(
      problems('  pics: { type: gcs, bucket: b1b, apiEndpoint: localhost:9199, contentEncoding: base64 }'),
    ).toEqual([
      'sinks.pics.apiEndpoint: an http(s) URL, e.g. http://127.0.0.1:9199',
      'sinks.pics: unknown key "contentEncoding"',
    ])
  })

  it('refuses retention that cannot be per stream', () => {
    expect(
      problems(
        '  pics: { type: s3, region: eu-west-1, bucket: b1b, key: "{timestamp}-{streamId}.{ext}", retention: { keepLatest: 5 } }',
      ),
    ).toEqual([
      expect.stringMatching(
        /^sinks\.pics\.retention: retention is per stream, so the key needs a folder named by the stream/,
      ),
    ])
    expect(
      problems('  pics: { type: gcs, bucket: b1b, key: "{date}/{streamId}/{id}.{ext}", retention: { maxAge: 1d } }'),
    ).toEqual([
      "sinks.pics.retention: retention is per stream, but the key's folders up to the stream use {date}, which change within a stream: move them after the stream folder",
    ])
    expect(
      problems(
        '  pics: { type: fs, dir: ./data, key: "{streamId}/{type}-{id}.{ext}", retention: { keepLatest: 5, types: [thumbnail] } }',
      ),
    ).toEqual([
      expect.stringMatching(
        /^sinks\.pics\.retention: retention\.types needs \{type\} in the key before the stream folder/,
      ),
    ])
    expect(problems('  pics: { type: fs, dir: ./data, retention: { types: [thumbnail] } }')).toEqual([
      'sinks.pics.retention: set keepLatest, maxAge or both',
    ])
    expect(problems('  pics: { type: fs, dir: ./data, retention: { keepLatest: 0, maxAge: 0 } }')).toEqual([
      expect.stringMatching(/^sinks\.pics\.retention\.keepLatest: /),
      'sinks.pics.retention.maxAge: a duration above 0, e.g. 7d',
    ])
  })

  it('refuses retention whose stream folder two streams could share (issue 20, item 2)', () => {
    expect(
      problems(
        '  pics: { type: fs, dir: ./data, key: "{type}/{accountId}-{streamName}/{id}.{ext}", retention: { keepLatest: 2 } }',
      ),
    ).toEqual([
      'sinks.pics.retention: retention is per stream, but the folder "{accountId}-{streamName}" joins {accountId} and {streamName}, which can give two streams one folder: put each in a folder of its own, e.g. "{accountId}/{streamName}"',
    ])
    expect(
      problems(
        '  pics: { type: s3, region: eu-west-1, bucket: b1b, key: "{type}/{streamId}-thumbs/{id}.{ext}", retention: { keepLatest: 2 } }',
      ),
    ).toEqual([
      'sinks.pics.retention: retention is per stream, but the folder "{streamId}-thumbs" has text after {streamId}, which can give events without a stream a folder holding other streams\': end the folder with {streamId}',
    ])
    // One stream value per folder, with other text or placeholders, is fine.
    expect(() =>
      parseConfig(
        config(
          '  pics: { type: fs, dir: ./data, key: "{type}-x/acct-{accountId}/{event}-{streamName}/{id}.{ext}", retention: { keepLatest: 2 } }',
        ),
        {},
      ),
    ).not.toThrow()
  })

  it('refuses a key template whose own text leaves no room for its values (issue 20, item 3)', () => {
    expect(problems(`  pics: { type: fs, dir: ./data, key: "${'x'.repeat(240)}-{streamName}/{id}.{ext}" }`)).toEqual([
      'sinks.pics.key: a name in the key can be 266 bytes even with its values shortened, more than the 255 a file system takes: shorten its fixed text',
    ])
  })

  it('the commented s3, gcs and retention examples of config.example.yaml are valid once uncommented', () => {
    const lines = readFileSync('config.example.yaml', 'utf8').split('\n')
    const uncomment = (first: string, indent: string) => {
      const start = lines.findIndex((line) => line.startsWith(first))
      expect(start, first).toBeGreaterThan(0)
      const block = [lines[start]!]
      for (const line of lines.slice(start + 1)) {
        if (!line.startsWith(`${indent}#   `)) break
        block.push(line)
      }
      return block.map((line) => indent + line.slice(indent.length + 2)).join('\n')
    }
    const env = { AWS_REGION: 'eu-west-1' }
    expect(
      parseConfig(config(uncomment('  # s3:', '  ').replace(/^ {2}s3:/, '  pics:')), env).sinks.pics,
    ).toMatchObject({
      type: 's3',
      bucket: 'my-thumbnails',
    })
    expect(
      parseConfig(config(uncomment('  # gcs:', '  ').replace(/^ {2}gcs:/, '  pics:')), env).sinks.pics,
    ).toMatchObject({ type: 'gcs', bucket: 'my-thumbnails' })
    const disk = `  pics:\n    type: fs\n    dir: ./data\n${uncomment('    # retention:', '    ')}`
    expect(parseConfig(config(disk), env).sinks.pics).toMatchObject({
      retention: { keepLatest: 100, maxAge: 7 * 86_400_000, types: ['thumbnail'], sweepEvery: 300_000 },
    })
  })
})
