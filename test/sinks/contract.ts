/**
 * The contract every storage sink passes against its real backend: exact bytes under the templated key, content
 * type and metadata, overwrite on redelivery, retention, and the classification of real failures.
 */
import { describe, expect, it } from 'vitest'
import type { Sink, SinkOptions } from '../../src/sinks/types.ts'
import type { HookEvent } from '../../src/events/types.ts'
import { DeliveryError } from '../../src/destinations/types.ts'
import { parseJsonHook, parseThumbnail } from '../../src/events/parse.ts'
import { FEED_ID, jpeg, PAYLOADS, signedJson, signedThumbnail } from '../support/hooks.ts'
import { skipWhen } from '../support/skip.ts'

export interface StoredCopy {
  body: Uint8Array
  contentType?: string | undefined
  contentEncoding?: string | undefined
  metadata?: Record<string, string>
}

export interface SinkFailure {
  /** What is wrong, as the test's title says it. */
  what: string
  make(): Sink
  permanent: boolean
  /** What the message must say (what to fix). */
  message: RegExp
  /** Strings that must not appear in the message (secrets). */
  secrets?: string[]
}

export interface SinkContract {
  name: string
  /** A sink writing where `readBack` reads; `config` is the YAML part under test (`key`, maybe `retention`). */
  make(config: { key: string; retention?: Record<string, unknown> }, options?: SinkOptions): Sink
  readBack(key: string): Promise<StoredCopy | undefined>
  /** Keys stored under `prefix`, sorted. */
  list(prefix: string): Promise<string[]>
  /** The store keeps content type and metadata (an object store; not a plain file). */
  keepsMetadata: boolean
  /** The sink makes URLs (urlFor) that a client here can fetch. */
  makesUrls: boolean
  /** Real failures of the real backend, each with its expected class. */
  failures: SinkFailure[]
}

const T0 = 1679973930415
const ctx = { source: 'millicast', receivedAt: 1 }

async function thumbnail(
  seed: string,
  options: { timestamp?: number; streamId?: string; size?: number } = {},
): Promise<HookEvent> {
  const hook = await signedThumbnail({
    body: jpeg(seed, options.size ?? 0),
    timestamp: options.timestamp ?? T0,
    ...(options.streamId ? { streamId: options.streamId } : {}),
  })
  return parseThumbnail(hook.body, new Headers(hook.headers), ctx)
}

async function json(payload: unknown): Promise<HookEvent> {
  return parseJsonHook((await signedJson(payload)).body, ctx)
}

const bytes = (data: Uint8Array | undefined) => Buffer.from(data ?? new Uint8Array())

export function sinkContract(target: SinkContract): void {
  // A folder per run, so a rerun against a kept server starts clean.
  const run = `${target.name}-${crypto.randomUUID().slice(0, 8)}`

  describe(`${target.name} sink contract`, () => {
    it('stores the exact bytes under the key its template gives, with the content type and no content encoding', async () => {
      const sink = target.make({ key: `${run}/bytes/{type}/{streamId}/{timestamp}-{id}.{ext}` })
      const thumb = await thumbnail('bytes', { size: 300_000 })
      const feeds = await json(PAYLOADS.feedsStarted)
      await sink.deliver(thumb)
      await sink.deliver(feeds)

      const thumbKey = `${run}/bytes/thumbnail/ZG6NWV/sample_stream/${T0}-${thumb.id}.jpg`
      const feedsKey = `${run}/bytes/feeds/ZG6NWV/sample_stream/1638463486489-${feeds.id}.json`
      expect(sink.keyFor(thumb)).toBe(thumbKey)
      expect(sink.keyFor(feeds)).toBe(feedsKey)
      expect(await target.list(`${run}/bytes/`)).toEqual([feedsKey, thumbKey])
      const storedThumb = await target.readBack(thumbKey)
      const storedFeeds = await target.readBack(feedsKey)
      expect(bytes(storedThumb?.body)).toEqual(bytes(thumb.body))
      expect(bytes(storedFeeds?.body)).toEqual(bytes(feeds.body))
      if (target.keepsMetadata) {
        expect([storedThumb?.contentType, storedThumb?.contentEncoding]).toEqual(['image/jpeg', undefined])
        expect([storedFeeds?.contentType, storedFeeds?.contentEncoding]).toEqual(['application/json', undefined])
      }
    })

    const noMetadata = !target.keepsMetadata && `the ${target.name} sink keeps no object metadata`
    it('stores stream, feed, type, event, timestamp and hook id as ASCII metadata', skipWhen(noMetadata), async () => {
      const sink = target.make({ key: `${run}/meta/{type}/{id}.{ext}` })
      const thumb = await thumbnail('meta')
      const transcoder = await json(PAYLOADS.transcoderActive)
      const accented = await json({
        ...PAYLOADS.viewerAttempt,
        data: { name: 'café', accountId: 'ZG6NWV', streamId: 'ZG6NWV/café' },
      })
      for (const event of [thumb, transcoder, accented]) await sink.deliver(event)

      expect((await target.readBack(sink.keyFor(thumb)))?.metadata).toEqual({
        'stream-id': 'ZG6NWV/sample_stream',
        'feed-id': FEED_ID,
        type: 'thumbnail',
        event: 'thumbnail',
        timestamp: String(T0),
        'hook-id': thumb.id,
      })
      expect((await target.readBack(sink.keyFor(transcoder)))?.metadata).toEqual({
        type: 'transcoder',
        event: 'ACTIVE',
        timestamp: '1724889842678',
        'hook-id': transcoder.id,
      })
      expect((await target.readBack(sink.keyFor(accented)))?.metadata).toEqual({
        'stream-id': 'ZG6NWV/caf%C3%A9',
        type: 'viewerConnection',
        event: 'ViewerAttempt',
        timestamp: '1727740800123',
        'hook-id': accented.id,
      })
    })

    it('overwrites on redelivery: the same event gives one object, and a fixed key keeps the latest body', async () => {
      const sink = target.make({ key: `${run}/again/{type}/{streamId}/{timestamp}-{id}.{ext}` })
      const thumb = await thumbnail('again')
      await sink.deliver(thumb)
      await sink.deliver(thumb)
      expect(await target.list(`${run}/again/`)).toEqual([sink.keyFor(thumb)])
      expect(bytes((await target.readBack(sink.keyFor(thumb)))?.body)).toEqual(bytes(thumb.body))

      const latest = target.make({ key: `${run}/latest/{streamId}/latest.{ext}` })
      const first = await thumbnail('first', { size: 50_000 })
      const second = await thumbnail('second', { timestamp: T0 + 30_000 })
      await latest.deliver(first)
      await latest.deliver(second)
      expect(await target.list(`${run}/latest/`)).toEqual([`${run}/latest/ZG6NWV/sample_stream/latest.jpg`])
      expect(bytes((await target.readBack(latest.keyFor(second)))?.body)).toEqual(bytes(second.body))
    })

    it('honours the abort signal: an attempt aborted (timed out, shutting down) stores nothing', async () => {
      const sink = target.make({ key: `${run}/aborted/{id}.{ext}` })
      const thumb = await thumbnail('aborted', { size: 2_000_000 })
      const controller = new AbortController()
      const attempt = sink.deliver(thumb, controller.signal)
      controller.abort(new Error('timed out after 1 ms'))
      await expect(attempt).rejects.toThrow('timed out after 1 ms')
      await new Promise((resolve) => setTimeout(resolve, 500)) // a writer that ignored the signal would finish now
      expect(await target.list(`${run}/aborted/`)).toEqual([])
    })

    it('retention keeps the newest N thumbnails of each stream and touches nothing else', async () => {
      const key = `${run}/keep/{type}/{streamId}/{date}/{timestamp}-{id}.{ext}`
      const sink = target.make({ key, retention: { keepLatest: 3, types: ['thumbnail'], sweepEvery: 0 } })
      const others = [
        await thumbnail('other-1', { streamId: 'ZG6NWV/other' }),
        await thumbnail('other-2', { streamId: 'ZG6NWV/other', timestamp: T0 + 1 }),
      ]
      const feeds = await json(PAYLOADS.feedsStarted)
      for (const event of [...others, feeds]) await sink.deliver(event)

      const stream: HookEvent[] = []
      for (let i = 0; i < 6; i++) {
        const event = await thumbnail(`keep-${i}`, { timestamp: T0 + i * 30_000 })
        stream.push(event)
        await sink.deliver(event)
      }
      expect(await target.list(`${run}/keep/thumbnail/ZG6NWV/sample_stream/`)).toEqual(
        stream.slice(3).map((e) => sink.keyFor(e)),
      )
      expect(await target.list(`${run}/keep/thumbnail/ZG6NWV/other/`)).toEqual(others.map((e) => sink.keyFor(e)))
      expect(await target.list(`${run}/keep/feeds/`)).toEqual([sink.keyFor(feeds)])
    })

    it('retention keeps each stream to its own objects, whatever its id holds (issue 20, item 2)', async () => {
      const sink = target.make({
        key: `${run}/own/{streamId}/{timestamp}-{id}.{ext}`,
        retention: { keepLatest: 2, sweepEvery: 0 },
      })
      const kept: string[] = []
      // A signed JSON hook whose stream id climbs: it was keyed ACME/a/_/_/b, inside the folder of stream ACME/a.
      for (let i = 0; i < 2; i++) {
        const climbing = await json({
          ...PAYLOADS.feedsStarted,
          timestamp: T0 - 10_000 + i,
          data: { ...PAYLOADS.feedsStarted.data, streamId: 'ACME/a/../../b' },
        })
        await sink.deliver(climbing)
        kept.push(sink.keyFor(climbing))
      }
      // Ids the old cleaning merged into one folder (ACME/a_b), then ACME/a, which swept the climbing hook's files.
      for (const streamId of ['ACME/a b', 'ACME/a+b', 'ACME/a_b', 'ACME/a']) {
        for (let i = 0; i < 3; i++) {
          const event = await thumbnail(`own-${streamId}-${i}`, { streamId, timestamp: T0 + i * 1000 })
          await sink.deliver(event)
          if (i > 0) kept.push(sink.keyFor(event))
        }
      }
      expect(await target.list(`${run}/own/`)).toEqual(kept.sort())
    })

    it('stores values too long for one name under shortened names, and any characters under names that decode back (issue 20, item 3)', async () => {
      const sink = target.make({ key: `${run}/long/{type}/{accountId}-{streamName}/{id}.{ext}` })
      const long = await thumbnail('long', { streamId: `${'A'.repeat(120)}/${'n'.repeat(200)}` })
      const accented = await json({
        ...PAYLOADS.viewerAttempt,
        data: { name: 'café 日本 100%', accountId: 'ACME', streamId: 'ACME/café 日本 100%' },
      })
      for (const event of [long, accented]) await sink.deliver(event)
      expect(await target.list(`${run}/long/`)).toEqual([sink.keyFor(long), sink.keyFor(accented)].sort())
      for (const event of [long, accented])
        expect(bytes((await target.readBack(sink.keyFor(event)))?.body)).toEqual(bytes(event.body))
      expect(
        sink
          .keyFor(long)
          .split('/')
          .map((name) => name.length),
      ).toEqual([run.length, 4, 9, 255, 28])
      expect(sink.keyFor(accented)).toBe(
        `${run}/long/viewerConnection/ACME-caf%C3%A9%20%E6%97%A5%E6%9C%AC%20100%25/${accented.id}.json`,
      )
    })

    it('retention lists a stream at most once per sweepEvery', async () => {
      let clock = Date.now()
      const sink = target.make(
        { key: `${run}/throttle/{streamId}/{timestamp}.{ext}`, retention: { keepLatest: 2, sweepEvery: '1h' } },
        { now: () => clock },
      )
      const events: HookEvent[] = []
      for (let i = 0; i < 5; i++) events.push(await thumbnail(`throttle-${i}`, { timestamp: T0 + i }))
      for (const event of events) await sink.deliver(event)
      // Only the first put swept (and found one object): the folder grew past keepLatest.
      expect(await target.list(`${run}/throttle/`)).toHaveLength(5)

      clock += 3_600_000
      const next = await thumbnail('throttle-next', { timestamp: T0 + 10 })
      await sink.deliver(next)
      expect(await target.list(`${run}/throttle/`)).toEqual([sink.keyFor(events[4]!), sink.keyFor(next)])
    })

    it('retention drops objects older than maxAge, never the one just written', async () => {
      let clock = Date.now()
      const sink = target.make(
        { key: `${run}/age/{streamId}/{timestamp}.{ext}`, retention: { maxAge: '1h', sweepEvery: 0 } },
        { now: () => clock },
      )
      const old: HookEvent[] = []
      for (let i = 0; i < 3; i++) old.push(await thumbnail(`age-${i}`, { timestamp: T0 + i }))
      for (const event of old) await sink.deliver(event)
      expect(await target.list(`${run}/age/`)).toHaveLength(3)

      // Two hours later (by the sink's clock) every stored object is too old, including the new one's neighbours.
      clock = Date.now() + 2 * 3_600_000
      const fresh = await thumbnail('age-fresh', { timestamp: T0 + 100 })
      await sink.deliver(fresh)
      expect(await target.list(`${run}/age/`)).toEqual([sink.keyFor(fresh)])
    })

    it('retention tolerates concurrent puts of one stream', async () => {
      const sink = target.make({
        key: `${run}/burst/{streamId}/{date}/{timestamp}-{id}.{ext}`,
        retention: { keepLatest: 3, sweepEvery: 0 },
      })
      const burst: HookEvent[] = []
      for (let i = 0; i < 12; i++) burst.push(await thumbnail(`burst-${i}`, { timestamp: T0 + i }))
      await Promise.all(burst.map((event) => sink.deliver(event)))
      // Each sweep spares the objects its own puts just wrote, so a burst may leave a few extra; the next put trims.
      const last = await thumbnail('burst-last', { timestamp: T0 + 100 })
      await sink.deliver(last)
      const kept = await target.list(`${run}/burst/`)
      expect(kept).toHaveLength(3)
      expect(kept).toContain(sink.keyFor(last))
      for (const key of kept)
        expect(key).toMatch(/^[\s\S]+\/ZG6NWV\/sample_stream\/\d{4}-\d\d-\d\d\/\d{13}-[0-9a-f]+\.jpg$/)
    })

    if (target.makesUrls) {
      it('urlFor gives a URL that serves the stored bytes', async () => {
        const sink = target.make({ key: `${run}/url/{streamId}/{timestamp}-{id}.{ext}` })
        const thumb = await thumbnail('url', { size: 20_000 })
        await sink.deliver(thumb)
        const response = await fetch(await sink.urlFor!(thumb))
        expect(response.status).toBe(200)
        expect(Buffer.from(await response.arrayBuffer())).toEqual(bytes(thumb.body))
      })
    } else {
      it('makes no URLs', () => {
        expect(target.make({ key: `${run}/url/{id}.{ext}` }).urlFor).toBeUndefined()
      })
    }

    it.each(target.failures)('classifies a real failure: $what', async (failure) => {
      const error = await failure
        .make()
        .deliver(await thumbnail(`fail-${failure.what}`))
        .then(
          () => undefined,
          (e: unknown) => e,
        )
      expect(error).toBeInstanceOf(DeliveryError)
      expect({ permanent: (error as DeliveryError).permanent }).toEqual({ permanent: failure.permanent })
      expect((error as DeliveryError).message).toMatch(failure.message)
      for (const secret of failure.secrets ?? []) expect((error as DeliveryError).message).not.toContain(secret)
    })
  })
}
