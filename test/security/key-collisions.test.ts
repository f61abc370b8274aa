/**
 * Issue 20, items 2 and 3, from outside. Stream ids that the old cleaning merged into one folder, a signed id whose
 * slashes climbed into another stream's folder, and names too long for a file system, sent to the real gateway on
 * Node, Deno and Bun (fs sinks) and to the Lambda handler (S3 sinks, s3rver). Then a seeded fuzz pass of stream ids
 * built from characters the old cleaning merged, dots, slashes and escapes: every folder must hold one stream's files
 * only, and retention must leave every stream some.
 *
 * The seed is printed; rerun one with HOOKCAST_KEYS_FUZZ_SEED=<seed>.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createLambda } from '../../adapters/lambda.ts'
import { silentLogger } from '../../src/log.ts'
import { RUNTIMES, startServer, type RunningServer } from '../support/runtimes.ts'
import { jpeg, PAYLOADS, post, SECRET, signedJson, signedThumbnail, type SignedHook } from '../support/hooks.ts'
import { listFiles, tempDir } from '../support/files.ts'
import { eventually } from '../support/wait.ts'
import { createPrng, type Prng } from '../support/prng.ts'
import { S3_ACCESS_KEY, S3_SECRET_KEY, startS3Server, type S3TestServer } from '../support/s3-server.ts'
import { functionUrlEvent, lambdaContext, restApiEvent } from '../lambda/events.ts'

const SEED = Number(process.env.HOOKCAST_KEYS_FUZZ_SEED || Math.floor(Math.random() * 2 ** 31))
const STREAMS_PER_RUNTIME = 40
console.log(
  `key collisions fuzz: seed ${SEED} (rerun: HOOKCAST_KEYS_FUZZ_SEED=${SEED} npx vitest run test/security/key-collisions.test.ts)`,
)

const T0 = 1_700_000_000_000
/** The stream ids: three the old cleaning keyed ACME/a_b, and ACME/a, whose folder held ACME/a/_/_/b. */
const MERGED = ['ACME/a b', 'ACME/a+b', 'ACME/a_b', 'ACME/a']
const CLIMBING = 'ACME/a/../../b'
/** The item 3: a 120-character account and a 200-character name, six times, then an ordinary event. */
const LONG_STREAM = `${'A'.repeat(120)}/${'n'.repeat(200)}`

const climbingHook = (i: number) =>
  signedJson({
    ...PAYLOADS.feedsStarted,
    timestamp: T0 - 10_000 + i,
    data: { ...PAYLOADS.feedsStarted.data, streamId: CLIMBING },
  })

/** The keys the streams leave under `{type}/{streamId}/{timestamp}-{id}.{ext}` with keepLatest 2. */
function expectedKeys(climbing: string[], thumbnails: Map<string, string[]>): string[] {
  const folders: Record<string, string> = {
    'ACME/a b': 'ACME/a%20b',
    'ACME/a+b': 'ACME/a%2Bb',
    'ACME/a_b': 'ACME/a_b',
    'ACME/a': 'ACME/a',
  }
  return [
    ...climbing.map((id, i) => `feeds/ACME/a%2F..%2F..%2Fb/${T0 - 10_000 + i}-${id}.json`),
    ...[...thumbnails].flatMap(([streamId, ids]) =>
      ids.slice(1).map((id, i) => `thumbnail/${folders[streamId]}/${T0 + (i + 1) * 1000}-${id}.jpg`),
    ),
  ].sort()
}

describe.each(RUNTIMES)('stream keys on %s', (runtime) => {
  const root = tempDir(`hookcast-keys-${runtime}-`)
  const data = join(root.path, 'data')
  const long = join(root.path, 'long')
  let server: RunningServer
  let url: string

  beforeAll(async () => {
    const config = join(root.path, 'config.yaml')
    writeFileSync(
      config,
      `
server: { shutdownGrace: 3s }
sources:
  millicast: { path: /hooks/millicast, secrets: ["${SECRET}"] }
sinks:
  disk: { type: fs, dir: "${data}", key: "{type}/{streamId}/{timestamp}-{id}.{ext}", retention: { keepLatest: 2, sweepEvery: 0 } }
  long: { type: fs, dir: "${long}", key: "{type}/{accountId}-{streamName}/{id}.{ext}" }
spool: { dir: "${join(root.path, 'spool')}" }
# No delayed checks for the live sessions (silence, first thumbnail, quiet), so "nothing pending" comes.
streams: { endAfterSilence: false, thumbnailWait: 0s, health: false }
routes:
  - to: [disk, long]
`,
    )
    server = await startServer(runtime, config)
    url = `${server.url}/hooks/millicast`
  }, 60_000)

  afterAll(async () => {
    await server?.stop()
    root.remove()
  })

  /** Posts a hook, expects 200, and answers its id. */
  const accept = async (hook: SignedHook | Promise<SignedHook>) => {
    const response = await post(url, await hook)
    expect(response.status, await response.clone().text()).toBe(200)
    return ((await response.json()) as { id: string }).id
  }
  /** Waits until nothing is left to deliver (retention sweeps run within deliveries), and answers the dead letters. */
  const settled = async () => {
    const metrics = await eventually(async () => {
      const text = await (await fetch(`${server.url}/metrics`)).text()
      return /^hookcast_spool_pending_deliveries 0$/m.test(text) && text
    }, 30_000)
    return Number(/^hookcast_dead_letters (\d+)$/m.exec(metrics)?.[1])
  }

  it('keeps streams the old cleaning merged apart, each to its own keepLatest, and an id with extra slashes out of other folders', async () => {
    const climbing = [await accept(climbingHook(0)), await accept(climbingHook(1))]
    await settled()
    const thumbnails = new Map<string, string[]>()
    for (const streamId of MERGED) {
      const ids: string[] = []
      for (let i = 0; i < 3; i++) {
        ids.push(
          await accept(
            signedThumbnail({ body: jpeg(`${runtime}-${streamId}-${i}`), streamId, timestamp: T0 + i * 1000 }),
          ),
        )
        await settled() // one at a time, so "the newest" is the last written
      }
      thumbnails.set(streamId, ids)
    }
    expect(listFiles(data)).toEqual(expectedKeys(climbing, thumbnails))
  }, 60_000)

  it('stores names too long for the file system under shortened names, and an ordinary event after them at once', async () => {
    const ids: string[] = []
    for (let i = 0; i < 6; i++)
      ids.push(await accept(signedThumbnail({ body: jpeg(`${runtime}-long-${i}`), streamId: LONG_STREAM })))
    const ordinary = await accept(signedThumbnail({ body: jpeg(`${runtime}-ordinary`) }))
    const stored = await eventually(() => {
      const files = listFiles(long)
      return [...ids, ordinary].every((id) => files.some((file) => file.endsWith(`/${id}.jpg`))) && files
    }, 30_000)
    expect(stored).toContain(`thumbnail/ZG6NWV-sample_stream/${ordinary}.jpg`)
    for (const file of stored) expect(Math.max(...file.split('/').map((name) => name.length))).toBeLessThanOrEqual(255)
    expect(await settled()).toBe(0) // no dead letters either
  }, 60_000)

  it(`fuzz: ${STREAMS_PER_RUNTIME} stream ids of characters the old cleaning merged each keep a folder of their own (seed ${SEED})`, async () => {
    const prng = createPrng(SEED + RUNTIMES.indexOf(runtime))
    const streamOf = new Map<string, string>()
    const hooks: { streamId: string; hook: SignedHook }[] = []
    for (let s = 0; s < STREAMS_PER_RUNTIME; s++) {
      const thumbnail = s % 2 === 0
      const streamId = thumbnail ? headerStreamId(prng) : jsonStreamId(prng)
      for (let i = 0; i < 3; i++) {
        const timestamp = T0 + s * 10 + i
        const hook = thumbnail
          ? await signedThumbnail({ body: jpeg(`${runtime}-fuzz-${s}-${i}`), streamId, timestamp })
          : await signedJson({ ...PAYLOADS.feedsStarted, timestamp, data: { ...PAYLOADS.feedsStarted.data, streamId } })
        hooks.push({ streamId: thumbnail ? streamId.trim() : streamId, hook })
      }
    }
    const refused: string[] = []
    let next = 0
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < hooks.length) {
          const { streamId, hook } = hooks[next++]!
          const response = await post(url, hook)
          if (response.status === 200) streamOf.set(((await response.json()) as { id: string }).id, streamId)
          else if (response.status !== 400)
            refused.push(`${JSON.stringify(streamId)}: ${response.status} ${await response.text()}`)
        }
      }),
    )
    expect(refused).toEqual([])
    expect(await settled()).toBe(0)
    console.log(
      `${runtime}: seed ${SEED}: ${new Set(streamOf.values()).size} stream ids accepted, ${hooks.length - streamOf.size} hooks refused (400)`,
    )

    const streamsIn = new Map<string, Set<string>>()
    for (const file of listFiles(data)) {
      const names = file.split('/')
      const streamId = streamOf.get(/^\d+-([0-9a-f]+)\./.exec(names.at(-1)!)![1]!)
      if (streamId === undefined) continue // an earlier test's event
      const folder = names.slice(0, -1).join('/')
      streamsIn.set(folder, (streamsIn.get(folder) ?? new Set()).add(streamId))
    }
    const shared = [...streamsIn]
      .filter(([, streams]) => streams.size > 1)
      .map(([folder, streams]) => `${folder}: ${[...streams].map((s) => JSON.stringify(s)).join(', ')}`)
    expect(shared, `seed ${SEED}`).toEqual([])
    const kept = new Set([...streamsIn.values()].flatMap((streams) => [...streams]))
    expect(
      [...new Set(streamOf.values())].filter((streamId) => !kept.has(streamId)),
      `seed ${SEED}: streams retention emptied`,
    ).toEqual([])
  }, 120_000)
})

/** Characters the old cleaning merged into `_` (or kept as `_`), dots, and pieces of escapes. */
const MERGING = ['a', '_', '+', ' ', '.', '%', '~', '-', '=', '@', '2', 'F', 'é']

/** `account/name` for a thumbnail header: parts of 1-3 such characters (some the gateway refuses, such as `..`). */
function headerStreamId(prng: Prng): string {
  const part = () => Array.from({ length: prng.int(1, 3) }, () => prng.pick(MERGING)).join('')
  return `${part()}/${part()}`
}

/** Any stream id a signed JSON hook can carry: slashes anywhere, other scripts, a lone surrogate. */
function jsonStreamId(prng: Prng): string {
  return Array.from({ length: prng.int(1, 6) }, () => prng.pick([...MERGING, '/', '/', '日', '\ud800', '\ufffd'])).join(
    '',
  )
}

describe('stream keys on the S3 sink through the Lambda handler', () => {
  const BUCKET = 'hookcast-keys'
  const PATH = '/hooks/millicast'
  const dir = tempDir('hookcast-keys-lambda-')
  let s3: S3TestServer
  let lambda: ReturnType<typeof createLambda>

  beforeAll(async () => {
    s3 = await startS3Server([BUCKET])
    const s3Sink = (key: string, extra = '') =>
      `{ type: s3, bucket: ${BUCKET}, endpoint: "${s3.endpoint}", accessKeyId: ${S3_ACCESS_KEY}, secretAccessKey: ${S3_SECRET_KEY}, key: "${key}"${extra} }`
    lambda = createLambda(
      {
        HOOKCAST_CONFIG_YAML: `
sources:
  millicast: { path: ${PATH}, secrets: ["${SECRET}"] }
sinks:
  hooks: ${s3Sink('hooks/{type}/{streamId}/{timestamp}-{id}.{ext}', ', retention: { keepLatest: 2, sweepEvery: 0 }')}
  long: ${s3Sink('long/{type}/{accountId}-{streamName}/{id}.{ext}')}
routes: [{ to: [hooks, long] }]
spool: { dir: "${join(dir.path, 'spool')}" }
`,
      },
      { log: silentLogger },
    )
  }, 60_000)
  afterAll(async () => {
    await lambda?.close()
    await s3?.stop()
    dir.remove()
  })

  /** Invokes the handler, which answers once every sink has the event; answers the id. */
  const invoke = async (hook: SignedHook | Promise<SignedHook>) => {
    const signed = await hook
    const event =
      signed.headers['content-type'] === 'image/jpeg'
        ? restApiEvent(PATH, signed, ['image/jpeg'])
        : functionUrlEvent(PATH, signed)
    const result = (await lambda.handler(
      event as unknown as Parameters<typeof lambda.handler>[0],
      lambdaContext(30_000) as never,
    )) as { statusCode: number; body: string }
    expect(result.statusCode, result.body).toBe(200)
    return (JSON.parse(result.body) as { id: string }).id
  }

  it('keeps streams the old cleaning merged apart, each to its own keepLatest, and an id with extra slashes out of other folders', async () => {
    const climbing = [await invoke(climbingHook(0)), await invoke(climbingHook(1))]
    const thumbnails = new Map<string, string[]>()
    for (const streamId of MERGED) {
      const ids: string[] = []
      for (let i = 0; i < 3; i++)
        ids.push(
          await invoke(signedThumbnail({ body: jpeg(`lambda-${streamId}-${i}`), streamId, timestamp: T0 + i * 1000 })),
        )
      thumbnails.set(streamId, ids)
    }
    expect(await s3.list(BUCKET, 'hooks/')).toEqual(expectedKeys(climbing, thumbnails).map((key) => `hooks/${key}`))
  }, 60_000)

  it('stores names too long for one name under shortened names, and an ordinary event after them', async () => {
    const ids: string[] = []
    for (let i = 0; i < 6; i++)
      ids.push(await invoke(signedThumbnail({ body: jpeg(`lambda-long-${i}`), streamId: LONG_STREAM })))
    const ordinary = await invoke(signedThumbnail({ body: jpeg('lambda-ordinary') }))
    const stored = await s3.list(BUCKET, 'long/')
    for (const id of ids) expect(stored.filter((key) => key.endsWith(`/${id}.jpg`))).toHaveLength(1)
    expect(stored).toContain(`long/thumbnail/ZG6NWV-sample_stream/${ordinary}.jpg`)
    for (const key of stored) expect(Math.max(...key.split('/').map((name) => name.length))).toBeLessThanOrEqual(255)
  }, 60_000)
})
