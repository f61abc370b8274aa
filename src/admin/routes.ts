/**
 * The operator side's routes: the live streams page, its JSON API, metrics and readiness. The page and the API
 * need `admin.token`, or (a server started without it) a one-time sign-in link printed at start; with neither they
 * are off. Every page and API answer carries anti-framing headers, and POSTs must come from the page itself.
 * @module
 */
import type { Context, Hono } from 'hono'
import { setCookie, deleteCookie } from 'hono/cookie'
import { HttpError } from '../http/errors.ts'
import type { Queue } from '../queue/types.ts'
import type { Worker } from '../delivery/worker.ts'
import type { StreamStore } from '../streams/stream-store.ts'
import type { Metrics } from './metrics.ts'
import type { RecentEvents } from '../activity/recent-events.ts'
import {
  COOKIE,
  createAdminAuth,
  createBearerCheck,
  tokenCredentials,
  tokenMatcher,
  type AdminAuth,
  type BearerCheck,
  type Limits,
} from './auth.ts'
import { createSessions, SESSION_ABSOLUTE_MS } from './sessions.ts'
import { createFailureLimit } from './rate-limit.ts'
import { createSharedLimit } from './shared-limit.ts'
import type { SessionStore } from './session-store.ts'
import type { Logger } from '../log.ts'
import { assertSameOrigin, securityHeaders } from './guards.ts'
import { smallBody } from './small-body.ts'
import { loginPage, PAGE_CSP, streamsPage, type SignInMode } from './page-html.ts'
import type { SignInLinks } from './sign-in-link.ts'
import { refersTo, streamView } from './stream-view.ts'
import { streamsByHealth } from './stream-health-gauge.ts'

interface AdminOptions {
  adminToken: string | undefined
  /** Without `adminToken`: sign in with one-time links (a server printing them at start); else the page is off. */
  signInLinks?: SignInLinks
  metrics: { enabled: boolean; token: string | undefined }
  queue: Queue
  worker: Worker
  streams: StreamStore
  recent: RecentEvents
  meter: Metrics
  /** The backend's sessions and failure counts (shared by every instance on a shared backend). */
  sessionStore: SessionStore
  log?: Logger
  /** Problems that make the gateway not ready (empty when ready). */
  readiness(): Promise<string[]>
  /** Behind a reverse proxy: take the client address from X-Forwarded-For (`server.trustProxy`). */
  trustProxy?: boolean
  now?: () => number
}

/** Prepares the tokens, then returns what mounts the routes on the app. */
export async function adminRoutes(options: AdminOptions): Promise<(app: Hono) => void> {
  const now = options.now ?? Date.now
  // One count of failures for both tokens: a client guessing one is guessing.
  const limits: Limits = {
    failures: createFailureLimit({ now }),
    shared: createSharedLimit(options.sessionStore, { now, ...(options.log ? { log: options.log } : {}) }),
    trustProxy: options.trustProxy ?? false,
  }
  const metricsCheck = options.metrics.token
    ? createBearerCheck(await tokenMatcher(options.metrics.token), limits)
    : undefined
  const credentials = options.adminToken
    ? tokenCredentials(await tokenMatcher(options.adminToken))
    : options.signInLinks && { signIn: (candidate: string) => options.signInLinks!.consume(candidate) } // no bearer
  const auth = credentials && createAdminAuth(credentials, createSessions(options.sessionStore, { now }), limits)
  const mode: SignInMode = options.adminToken ? 'token' : 'link'
  return (app) => {
    const ctx: AdminContext = { options, limits, metricsCheck, mode }
    mountProbes(app, ctx)
    if (!auth) return
    const signedIn = { ...ctx, auth }
    mountSignIn(app, signedIn)
    mountApi(app, signedIn)
  }
}

/** What the routes share: the options, the failure limits of both tokens, and how the page signs in. */
interface AdminContext {
  options: AdminOptions
  limits: Limits
  metricsCheck: BearerCheck | undefined
  mode: SignInMode
}

/** With the page and API on. */
interface SignedInContext extends AdminContext {
  auth: AdminAuth
}

/** Readiness and metrics, which stay on without the page. */
function mountProbes(app: Hono, ctx: AdminContext): void {
  const { options, metricsCheck } = ctx
  app.get('/readyz', async (c) => {
    const problems = await options.readiness()
    return c.json({ ok: problems.length === 0, problems }, problems.length === 0 ? 200 : 503)
  })
  if (!options.metrics.enabled) return
  const byHealth = streamsByHealth(options.streams, options.now ?? Date.now)
  app.get('/metrics', async (c) => {
    if (metricsCheck && !(await metricsCheck.allows(c)))
      throw new HttpError(401, 'unauthorized', 'metrics need the metrics token')
    const streams = await byHealth().catch(() => undefined) // the other metrics still answer
    const spool = await options.queue.stats()
    const body = options.meter.render({ spool, lanes: options.worker.lanes(), ...(streams ? { streams } : {}) })
    return c.body(body, 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' })
  })
}

/** The page, the sign-in form and sign-out. */
function mountSignIn(app: Hono, ctx: SignedInContext): void {
  const { auth, mode, limits } = ctx
  for (const path of ['/', '/login', '/logout', '/api/*']) app.use(path, securityHeaders())
  app.get('/', async (c) =>
    (await auth.allows(c))
      ? page(c, streamsPage(), PAGE_CSP.streams)
      : page(c, loginPage(undefined, mode), PAGE_CSP.login),
  )
  // Where sign-in links land (`/login#token=…`): always the form, whose script signs in with the fragment's token.
  // Never a redirect, even when signed in: the browser would carry the fragment, token and all, to the new address.
  app.get('/login', (c) => page(c, loginPage(undefined, mode), PAGE_CSP.login))
  app.post('/login', (c) => signIn(ctx, c))
  app.post('/logout', async (c) => {
    assertSameOrigin(c, limits.trustProxy)
    await auth.signOut(c)
    deleteCookie(c, COOKIE, { path: '/', secure: overHttps(c) })
    return c.redirect('/', 303)
  })
}

async function signIn(ctx: SignedInContext, c: Context): Promise<Response> {
  const { mode } = ctx
  assertSameOrigin(c, ctx.limits.trustProxy)
  const form = new URLSearchParams(await smallBody(c)) // the form's default encoding
  // A link's token stays in the browser's history: only one-time tokens may come that way (page-html.ts).
  if (mode === 'token' && form.get('via') === 'link') {
    return page(c, loginPage(LINK_REFUSED, mode), PAGE_CSP.login, 400)
  }
  const result = await ctx.auth.signIn(c, form.get('token') ?? '')
  if ('retryAfter' in result) {
    return page(
      c,
      loginPage(`Too many wrong tokens from this address. Try again in ${result.retryAfter} s.`, mode),
      PAGE_CSP.login,
      429,
      { 'retry-after': String(result.retryAfter) },
    )
  }
  if ('wrong' in result) {
    const why = result.used
      ? 'That sign-in link was used already: each one signs in once. hookcast printed a new one in its output.'
      : 'That token is not right.'
    return page(c, loginPage(why, mode), PAGE_CSP.login, 401)
  }
  setCookie(c, COOKIE, result.session, {
    httpOnly: true,
    sameSite: 'Strict',
    path: '/',
    maxAge: SESSION_ABSOLUTE_MS / 1000,
    secure: overHttps(c),
  })
  return c.redirect('/', 303)
}

/** The JSON API the page reads: streams, their thumbnails, recent events, status, dead letters and replay. */
function mountApi(app: Hono, ctx: SignedInContext): void {
  const { queue, worker, streams, recent } = ctx.options
  app.get('/api/streams', async (c) => {
    await guard(ctx, c)
    const list = (await streams.list()).sort((a, b) => (b.liveSince ?? 0) - (a.liveSince ?? 0)).map(streamView)
    return c.json({ streams: list })
  })
  // The stream id is `account/name`: accept it with its slash encoded or as two path segments.
  app.get('/api/streams/:stream/thumbnail', (c) => thumbnail(ctx, c, c.req.param('stream')))
  app.get('/api/streams/:account/:name/thumbnail', (c) =>
    thumbnail(ctx, c, `${c.req.param('account')}/${c.req.param('name')}`),
  )
  app.delete('/api/streams/:stream', (c) => forget(ctx, c, c.req.param('stream')))
  app.delete('/api/streams/:account/:name', (c) => forget(ctx, c, `${c.req.param('account')}/${c.req.param('name')}`))
  app.get('/api/events', async (c) => {
    await guard(ctx, c)
    const limit = Math.min(500, Math.max(1, Number(c.req.query('limit') ?? 100) || 100))
    return c.json({ events: await recent.list(limit) })
  })
  app.get('/api/status', async (c) => {
    await guard(ctx, c)
    const spool = await queue.stats()
    const destinations = worker
      .lanes()
      .filter((lane) => !lane.destination.startsWith('@'))
      .map((lane) => ({ ...lane, pending: spool.destinations[lane.destination] ?? 0 }))
    const { destinations: _pending, ...totals } = spool
    return c.json({ spool: totals, destinations })
  })
  app.get('/api/dead-letters', async (c) => {
    await guard(ctx, c)
    const filter = filterOf({ eventId: c.req.query('event'), destination: c.req.query('destination') })
    return c.json({ deadLetters: await queue.deadLetters(filter) })
  })
  app.post('/api/dead-letters/replay', (c) => replay(ctx, c))
}

async function guard(ctx: SignedInContext, c: Context): Promise<void> {
  if (!(await ctx.auth.allows(c))) throw new HttpError(401, 'unauthorized', UNAUTHORIZED[ctx.mode])
}

function page(
  c: Context,
  html: string,
  csp: string,
  status: 200 | 400 | 401 | 429 = 200,
  headers: Record<string, string> = {},
): Response | Promise<Response> {
  return c.html(html, status, { 'content-security-policy': csp, ...headers })
}

async function thumbnail(ctx: SignedInContext, c: Context, streamId: string): Promise<Response> {
  await guard(ctx, c)
  const { streams } = ctx.options
  const record = (await streams.get(streamId))?.record
  const wanted = c.req.query('event')
  // Another thumbnail than the latest (a problem's picture) only when the record refers to it.
  const ref = record && (wanted ? refersTo(record, wanted) : record.latestThumbnail)
  const bytes = ref && (await streams.thumbnail(streamId, ref.eventId))
  if (!ref || !bytes) throw new HttpError(404, 'not_found', 'no thumbnail for this stream')
  const etag = `"${ref.eventId}"`
  if (c.req.header('if-none-match') === etag) return c.body(null, 304, { etag })
  return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
    'content-type': 'image/jpeg',
    etag,
    'cache-control': 'private, no-cache',
  })
}

/** Forgets a stream (one left from a test, or a stale one): its record and thumbnails; a later hook starts afresh. */
async function forget(ctx: SignedInContext, c: Context, streamId: string): Promise<Response> {
  assertSameOrigin(c, ctx.limits.trustProxy)
  await guard(ctx, c)
  if (!(await ctx.options.streams.delete(streamId))) throw new HttpError(404, 'not_found', 'no such stream')
  return c.json({ forgotten: streamId })
}

async function replay(ctx: SignedInContext, c: Context): Promise<Response> {
  const { queue, recent } = ctx.options
  assertSameOrigin(c, ctx.limits.trustProxy)
  await guard(ctx, c)
  // JSON only: a cross-site form cannot send it without a preflight, so the cookie alone cannot be abused.
  if (!c.req.header('content-type')?.startsWith('application/json'))
    throw new HttpError(415, 'unsupported_content_type', 'send JSON')
  const body = parseJson(await smallBody(c)) as { eventId?: string; destination?: string; all?: boolean }
  const filter = filterOf(body)
  if (!body.all && Object.keys(filter).length === 0)
    throw new HttpError(400, 'no_filter', 'say what to replay: eventId, destination, or all: true')
  // Shown pending before the replay: its delivery may be made, and shown delivered, before the replay answers here.
  for (const letter of await queue.deadLetters(filter)) recent.replayed(letter.eventId, letter.destination)
  return c.json({ replayed: await queue.replay(filter) })
}

/** Said without checking the token: no guess is counted or answered. */
const LINK_REFUSED =
  'This gateway does not sign in from a link: browsers keep links in their history, and the ' +
  'admin token must not be there. Type the token here. If that link held the admin token, change the token.'

const UNAUTHORIZED: Record<SignInMode, string> = {
  token: 'send Authorization: Bearer <admin token>',
  link:
    'sign in on the page with the link hookcast printed at start; ' +
    'the API takes a bearer token only with admin.token set',
}

/** The request reached us over https, itself or (as a TLS-terminating proxy says) before the proxy. */
function overHttps(c: Context): boolean {
  return (
    new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto')?.split(',')[0]?.trim() === 'https'
  )
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) ?? {}
  } catch {
    return {}
  }
}

function filterOf(input: { eventId?: unknown; destination?: unknown }): { eventId?: string; destination?: string } {
  return {
    ...(typeof input.eventId === 'string' && input.eventId ? { eventId: input.eventId } : {}),
    ...(typeof input.destination === 'string' && input.destination ? { destination: input.destination } : {}),
  }
}
