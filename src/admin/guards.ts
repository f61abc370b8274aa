/**
 * Browser-facing protections of the page and its API: headers on every answer, and a same-origin check on POSTs.
 * @module
 */
import type { Context, MiddlewareHandler } from 'hono'
import { HttpError } from '../http/errors.ts'

/** For answers that set no policy of their own (the API): load nothing, be framed by nothing. */
const API_CSP = "default-src 'none'; frame-ancestors 'none'"

/**
 * No framing (clickjacking: `X-Frame-Options` for old browsers, `frame-ancestors` for the rest; it only works as a
 * header, not in a meta tag), no MIME sniffing, no Referer leaving the page, and no caching of answers that do not
 * say otherwise (they hold operator data).
 */
export function securityHeaders(): MiddlewareHandler {
  return async function securityHeaders(c, next) {
    await next()
    const headers = c.res.headers
    headers.set('x-frame-options', 'DENY')
    headers.set('x-content-type-options', 'nosniff')
    headers.set('referrer-policy', 'no-referrer')
    if (!headers.has('content-security-policy')) headers.set('content-security-policy', API_CSP)
    if (!headers.has('cache-control')) headers.set('cache-control', 'no-store')
  }
}

/**
 * Refuses (403) a POST another site made the browser send. `Sec-Fetch-Site` is set by the browser itself, so it
 * holds behind any proxy; browsers without it send `Origin`, compared with the host the request was made to
 * (Go's net/http CrossOriginProtection works the same way). A request with neither comes from no web page (curl,
 * scripts), and could not carry the page's cookie from another site anyway (SameSite=Strict).
 */
export function assertSameOrigin(c: Context, trustProxy: boolean): void {
  const site = c.req.header('sec-fetch-site')
  if (site !== undefined) {
    if (site === 'same-origin' || site === 'none') return
    throw crossSite()
  }
  const origin = c.req.header('origin')
  if (origin === undefined) return
  const own = (trustProxy && c.req.header('x-forwarded-host')?.split(',')[0]?.trim()) || new URL(c.req.url).host
  let from: string
  try {
    from = new URL(origin).host
  } catch {
    throw crossSite() // `Origin: null` (sandboxed frames, some redirects) proves nothing
  }
  if (from !== own) throw crossSite()
}

const crossSite = () => new HttpError(403, 'cross_site', 'this request came from another site')
