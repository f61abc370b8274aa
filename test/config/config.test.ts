import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { ConfigError, parseConfig, resolveConfigPath } from '../../src/config/load.ts'
import { interpolate } from '../../src/config/interpolate.ts'
import { parseByteSize, parseDuration } from '../../src/config/units.ts'
import { EMBEDDED_CONFIG } from '../../src/config/embedded.ts'
import { SECRET } from '../support/hooks.ts'

function problems(text: string, env: Record<string, string> = {}): string[] {
  try {
    parseConfig(text, env)
  } catch (error) {
    if (error instanceof ConfigError) return error.problems
    throw error
  }
  throw new Error('config was accepted')
}

const VALID = `
server: { port: 9000, maxBodyBytes: 8MiB }
sources:
  millicast:
    path: /hooks/millicast
    secrets: ["\${SECRET}"]
sinks:
  disk: { type: fs, dir: ./data }
routes:
  - when: { type: thumbnail }
    to: [disk]
`

describe('config', () => {
  it('parses a valid config with env interpolation and size units', () => {
    const config = parseConfig(VALID, { SECRET })
    expect(config.server).toMatchObject({
      port: 9000,
      allowDevSecret: false,
      maxBodyBytes: 8 * 1024 * 1024,
      shutdownGrace: 10_000,
    })
    expect(config.server.host).toBeUndefined() // chosen at start: see src/config/listen.ts
    expect(config.spool).toMatchObject({ dir: './spool', fsync: false, maxBytes: 1024 ** 3, dedupWindow: 600_000 })
    expect(config.delivery.retry.schedule).toEqual([1_000, 5_000, 30_000, 120_000, 600_000, 3_600_000])
    expect(config.sources.millicast!.secrets).toEqual([SECRET])
    expect(config.sinks.disk).toMatchObject({
      type: 'fs',
      dir: './data',
      key: '{type}/{streamId}/{date}/{timestamp}-{event}-{id}.{ext}',
    })
    expect(config.routes[0]!.when.type).toEqual(['thumbnail'])
  })

  it('lists every problem with its YAML path in one error', () => {
    const text = `
server: { port: 9000, maxBodyBytes: lots }
sources:
  millicast: { path: hooks, secrets: ["\${MISSING_ONE}"], extra: 1 }
sinks:
  disk: { type: fs, dir: ./data, key: "{type}/{nope}/../x" }
  cloud: { type: s4, bucket: b }
routes:
  - when: { type: thumbnail }
    to: [disk, s4]
  - to: []
`
    const list = problems(text)
    expect(list).toEqual(
      expect.arrayContaining([
        'sources.millicast.secrets[0]: environment variable MISSING_ONE is not set',
        expect.stringMatching(/^server\.maxBodyBytes: not a byte size: "lots"/),
        expect.stringMatching(/^sources\.millicast\.path: /),
        'sources.millicast: unknown key "extra"',
        'sinks.disk.key: unknown placeholder {nope}',
        'sinks.disk.key: a key may not contain . or .. segments',
        'sinks.cloud.type: unknown type "s4"; valid types: fs, s3, gcs',
        expect.stringMatching(/^routes\[1\]\.to: /),
        'routes[0].to[1]: unknown sink or notifier "s4"',
      ]),
    )
    expect(list).toHaveLength(9)
  })

  it('names an unknown destination of a route', () => {
    const text = VALID.replace('to: [disk]', 'to: [disk, disk, s4]')
    expect(problems(text, { SECRET })).toEqual(['routes[0].to[2]: unknown sink or notifier "s4"'])
  })

  it('refuses destination names JavaScript objects already use', () => {
    const text = VALID.replace('to: [disk]', 'to: [constructor]').replace(/^ {2}disk:/m, '  constructor:')
    expect(problems(text, { SECRET })).toEqual([expect.stringMatching(/^sinks\.constructor: /)])
  })

  it('fails on unknown top-level keys and a YAML syntax error', () => {
    expect(problems(VALID + 'sinkz: {}\n', { SECRET })).toEqual(['(root): unknown key "sinkz" (did you mean `sinks`?)'])
    expect(problems('sources: [unclosed', {})[0]).toMatch(/^YAML syntax error at line 1, column \d+: /)
  })

  it('refuses __proto__ as an unknown key at every level, and it takes no effect', () => {
    const proto = (yaml: string) => problems(VALID + yaml, { SECRET })
    expect(proto('__proto__: { admin: { enabled: false } }\n')).toEqual(['(root): unknown key "__proto__"'])
    expect(proto('admin:\n  __proto__: { enabled: false }\n')).toEqual(['admin: unknown key "__proto__"'])
    expect(
      proto('notifiers:\n  hook: { type: http, url: "https://example.com", __proto__: { mode: original } }\n'),
    ).toEqual(['notifiers.hook: unknown key "__proto__"'])
    const inRoute = VALID.replace('    to: [disk]', '    to: [disk]\n    __proto__: { when: { type: feeds } }')
    expect(problems(inRoute, { SECRET })).toEqual(['routes[0]: unknown key "__proto__"'])
    const inSources = VALID.replace('sources:', 'sources:\n  __proto__: { path: /x, secrets: ["${SECRET}"] }')
    expect(problems(inSources, { SECRET })).toEqual(['sources: unknown key "__proto__"'])
    // `constructor` and `prototype` are ordinary keys: unknown where the schema does not know them.
    expect(proto('admin: { constructor: { enabled: false }, prototype: 1 }\n')).toEqual([
      'admin: unknown keys "constructor", "prototype"',
    ])
  })

  it('refuses a secret that is not base64 and two sources on one path', () => {
    const text = `
sources:
  a: { path: /h, secrets: ["not base64!"] }
  b: { path: /h, secrets: ["${SECRET}"] }
`
    expect(problems(text)).toEqual([
      'sources.a.secrets[0]: not a base64 secret (paste it as the dashboard or REST API shows it)',
      'sources.b.path: same path as source "a"',
    ])
  })

  it('the example config and the embedded default are valid with no environment', () => {
    const example = parseConfig(readFileSync('config.example.yaml', 'utf8'), {})
    expect(Object.keys(example.sinks)).toEqual(['disk'])
    expect(parseConfig(EMBEDDED_CONFIG, {}).sources.millicast!.secrets).toEqual([SECRET])
  })
})

describe('safe by default', () => {
  const source = (path: string, secret = SECRET) => `sources:\n  a: { path: ${path}, secrets: ["${secret}"] }\n`

  it("refuses a signing secret shorter than 16 bytes; the protocol's test secret (32 bytes) passes", () => {
    expect(problems(source('/h', btoa('fifteen-bytes!!')))).toEqual([
      "sources.a.secrets[0]: the secret decodes to 15 bytes; at least 16 are needed (the platform's secrets are 32)",
    ])
    expect(parseConfig(source('/h', btoa('sixteen-bytes!!!')), {}).sources.a!.secrets).toHaveLength(1)
    expect(parseConfig(source('/h'), {}).sources.a!.secrets).toEqual([SECRET])
  })

  it('refuses an admin or metrics token shorter than 16 characters; empty still means off', () => {
    expect(problems(source('/h') + 'admin: { token: short-token }\nmetrics: { token: "0123456789abcde" }\n')).toEqual([
      'admin.token: at least 16 characters (a long random string: openssl rand -hex 24)',
      'metrics.token: at least 16 characters (a long random string: openssl rand -hex 24)',
    ])
    const config = parseConfig(source('/h') + 'admin: { token: "${A:-}" }\nmetrics: { token: 0123456789abcdef }\n', {})
    expect(config.admin.token).toBeUndefined()
    expect(config.metrics.token).toBe('0123456789abcdef')
  })

  it('refuses a source path that would shadow the page, its API, metrics or health, naming the YAML path', () => {
    for (const path of [
      '/',
      '/api',
      '/api/streams',
      '/thumbnails/x',
      '/healthz',
      '/readyz',
      '/metrics',
      '/login',
      '/logout',
      '/metrics/',
    ]) {
      expect(problems(source(path))).toEqual([
        expect.stringMatching(new RegExp(`^sources\\.a\\.path: ${path.replace(/[/]/g, '\\/')} is hookcast's own path`)),
      ])
    }
    for (const path of ['/hooks/millicast', '/apiary', '/hooks/api', '/metricsx', '/healthz-hooks'])
      expect(parseConfig(source(path), {}).sources.a!.path).toBe(path)
  })
})

describe('interpolate', () => {
  it('substitutes into parsed strings, so a secret with YAML syntax stays one value', () => {
    const text = 'sources:\n  m: { path: /h, secrets: ["${S}"] }\n'
    const secret = btoa('x: [y]\n#z, long enough')
    expect(parseConfig(text, { S: secret }).sources.m!.secrets).toEqual([secret])
  })

  it('uses defaults, treats empty as unset, and escapes $$', () => {
    const missing: { name: string; path: string }[] = []
    expect(interpolate({ a: '${A:-dflt}', b: 'x${B}y', c: '$${C}', d: ['${D}'] }, { B: '1', D: '' }, missing)).toEqual({
      a: 'dflt',
      b: 'x1y',
      c: '${C}',
      d: ['${D}'],
    })
    expect(missing).toEqual([{ name: 'D', path: 'd[0]' }])
  })
})

describe('sizes and durations', () => {
  it('parses units', () => {
    expect(parseByteSize('16MiB')).toBe(16 * 1024 * 1024)
    expect(parseByteSize('512 KB')).toBe(512_000)
    expect(parseByteSize('100')).toBe(100)
    expect(parseByteSize('12 parsecs')).toBeUndefined()
    expect(parseByteSize('1constructor')).toBeUndefined() // not a unit Object.prototype happens to have
    expect(parseDuration('45s')).toBe(45_000)
    expect(parseDuration('2m')).toBe(120_000)
    expect(parseDuration('soon')).toBeUndefined()
  })
})

describe('resolveConfigPath', () => {
  it('prefers --config, then HOOKCAST_CONFIG, then files in the working directory', () => {
    expect(resolveConfigPath(['--config', 'a.yaml'], { HOOKCAST_CONFIG: 'b.yaml' })).toBe('a.yaml')
    expect(resolveConfigPath(['--config=c.yaml'], {})).toBe('c.yaml')
    expect(resolveConfigPath([], { HOOKCAST_CONFIG: 'b.yaml' })).toBe('b.yaml')
    expect(resolveConfigPath([], {})).toBe('config.example.yaml')
  })
})

describe('delivery and notifier config', () => {
  it('checks per-destination overrides and notifier names against the destinations', () => {
    const text = `
sources:
  m: { path: /h, secrets: ["${SECRET}"] }
sinks:
  disk: { type: fs, dir: ./d }
notifiers:
  disk: { type: http, url: "http://x/" }
  hook: { type: http, url: "ftp://x/" }
delivery:
  retry: { schedule: [1s, soon] }
  destinations: { nope: { concurrency: 1 } }
`
    expect(problems(text)).toEqual(
      expect.arrayContaining([
        'notifiers.disk: "disk" is also a sink; destination names must be unique',
        expect.stringMatching(/^notifiers\.hook\.url: /),
        'delivery.retry.schedule[1]: not a duration: "soon" (try 500ms, 45s, 2m or 1h)',
        'delivery.destinations.nope: unknown sink or notifier "nope"',
      ]),
    )
  })
})
