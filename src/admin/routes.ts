/**
 * The operator side: the live streams page, its JSON API, metrics and readiness. The page and the API are on only
 * when `admin.token` is set, and need it; webhook paths never do.
 * @module
 */
import type { Context, Hono } from 'hono'
import { setCookie, deleteCookie } from 'hono/cookie'
import { HttpError } from '../http/errors.ts'
import type { Outbox } from '../outbox/types.ts'
import type { StreamRecord, StreamStore } from '../streams/types.ts'
import type { Metrics } from './metrics.ts'
import type { RecentEvents } from './recent-events.ts'
import { COOKIE, createTokenCheck, type TokenCheck } from './auth.ts'
import { loginPage, streamsPage } from './page.ts'
import { activeFeedIds } from '../streams/active-feeds.ts'

export interface AdminOptions {
  adminToken: string | undefined
  metrics: { enabled: boolean; token: string | undefined }
  outbox: Outbox
  streams: StreamStore
  recent: RecentEvents
  meter: Metrics
  /** Problems that make the gateway not ready (empty when ready). */
  readiness(): Promise<string[]>
}

/** Prepares the tokens, then returns what mounts the routes on the app. */
export async function adminRoutes(options: AdminOptions): Promise<(app: Hono) => void> {
  const metricsCheck = options.metrics.token ? await createTokenCheck(options.metrics.token) : undefined
  const check = options.adminToken ? await createTokenCheck(options.adminToken) : undefined
  return (app) => mountAdmin(app, options, metricsCheck, check)
}

function mountAdmin(app: Hono, options: AdminOptions, metricsCheck: TokenCheck | undefined, check: TokenCheck | undefined): void {
  const { outbox, streams, recent } = options

  app.get('/readyz', async (c) => {
    const problems = await options.readiness()
    return c.json({ ok: problems.length === 0, problems }, problems.length === 0 ? 200 : 503)
  })

  if (options.metrics.enabled) {
    app.get('/metrics', async (c) => {
      if (metricsCheck && !(await metricsCheck.allows(c))) throw new HttpError(401, 'unauthorized', 'metrics need the metrics token')
      const body = options.meter.render({ spool: outbox.stats(), lanes: outbox.lanes() })
      return c.body(body, 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' })
    })
  }

  if (!check) return
  const guard = async (c: Context) => {
    if (!(await check.allows(c))) throw new HttpError(401, 'unauthorized', 'send Authorization: Bearer <admin token>')
  }

  app.get('/', async (c) => c.html(await check.allows(c) ? streamsPage() : loginPage()))
  app.post('/login', async (c) => {
    const form = await c.req.parseBody()
    const cookie = await check.login(String(form.token ?? ''))
    if (!cookie) return c.html(loginPage('That token is not right.'), 401)
    setCookie(c, COOKIE, cookie, {
      httpOnly: true, sameSite: 'Strict', path: '/', maxAge: 30 * 86_400, secure: new URL(c.req.url).protocol === 'https:',
    })
    return c.redirect('/', 303)
  })
  app.post('/logout', (c) => {
    deleteCookie(c, COOKIE, { path: '/' })
    return c.redirect('/', 303)
  })

  app.get('/api/streams', async (c) => {
    await guard(c)
    const list = streams.all().sort((a, b) => (b.liveSince ?? 0) - (a.liveSince ?? 0)).map(streamView)
    return c.json({ streams: list })
  })
  const thumbnail = async (c: Context, streamId: string) => {
    await guard(c)
    const ref = streams.get(streamId)?.latestThumbnail
    const bytes = ref && (await streams.thumbnail(streamId, ref.eventId))
    if (!ref || !bytes) throw new HttpError(404, 'not_found', 'no thumbnail for this stream')
    const etag = `"${ref.eventId}"`
    if (c.req.header('if-none-match') === etag) return c.body(null, 304, { etag })
    return c.body(bytes as Uint8Array<ArrayBuffer>, 200, { 'content-type': 'image/jpeg', etag, 'cache-control': 'private, no-cache' })
  }
  // The stream id is `account/name`: accept it with its slash encoded or as two path segments.
  app.get('/api/streams/:stream/thumbnail', (c) => thumbnail(c, c.req.param('stream')))
  app.get('/api/streams/:account/:name/thumbnail', (c) => thumbnail(c, `${c.req.param('account')}/${c.req.param('name')}`))

  app.get('/api/events', async (c) => {
    await guard(c)
    const limit = Math.min(500, Math.max(1, Number(c.req.query('limit') ?? 100) || 100))
    return c.json({ events: recent.list(limit) })
  })
  app.get('/api/status', async (c) => {
    await guard(c)
    return c.json({ spool: outbox.stats(), destinations: outbox.lanes().filter((lane) => !lane.destination.startsWith('@')) })
  })
  app.get('/api/dead-letters', async (c) => {
    await guard(c)
    const filter = filterOf({ eventId: c.req.query('event'), destination: c.req.query('destination') })
    return c.json({ deadLetters: await outbox.deadLetters(filter) })
  })
  app.post('/api/dead-letters/replay', async (c) => {
    await guard(c)
    // JSON only: a cross-site form cannot send it without a preflight, so the cookie alone cannot be abused.
    if (!c.req.header('content-type')?.startsWith('application/json')) throw new HttpError(415, 'unsupported_content_type', 'send JSON')
    const body = (await c.req.json().catch(() => ({}))) as { eventId?: string; destination?: string; all?: boolean }
    const filter = filterOf(body)
    if (!body.all && Object.keys(filter).length === 0) throw new HttpError(400, 'no_filter', 'say what to replay: eventId, destination, or all: true')
    const letters = await outbox.deadLetters(filter)
    const replayed = await outbox.replay(filter)
    for (const letter of letters) recent.replayed(letter.eventId, letter.destination)
    return c.json({ replayed })
  })
}

function filterOf(input: { eventId?: unknown; destination?: unknown }): { eventId?: string; destination?: string } {
  return {
    ...(typeof input.eventId === 'string' && input.eventId ? { eventId: input.eventId } : {}),
    ...(typeof input.destination === 'string' && input.destination ? { destination: input.destination } : {}),
  }
}

/** A stream as the page shows it. */
function streamView(record: StreamRecord) {
  const feeds = activeFeedIds(record).length
  return {
    streamId: record.streamId,
    accountId: record.accountId,
    streamName: record.streamName,
    status: record.status,
    liveSince: record.liveSince,
    endedAt: record.endedAt,
    feeds,
    latestThumbnail: record.latestThumbnail
      ? { eventId: record.latestThumbnail.eventId, timestamp: record.latestThumbnail.timestamp, url: `/api/streams/${encodeURIComponent(record.streamId)}/thumbnail` }
      : null,
    updatedAt: record.updatedAt,
  }
}
