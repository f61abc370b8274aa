/**
 * HTTP routes over the stream store: the signed thumbnail links given to Slack.
 *
 * A cache (Slack's image proxy, a CDN) may keep a thumbnail only while its link is valid: `max-age` is the time the
 * link has left, at most a day, so no cache serves it past its expiry. `nosniff` on every answer, so a browser
 * never runs the bytes as anything but the declared type.
 * @module
 */
import type { Hono } from 'hono'
import type { StreamStore } from './stream-store.ts'
import { THUMBNAIL_ROUTE, type ThumbnailLinks } from './thumbnail-links.ts'
import { HttpError } from '../http/errors.ts'

/** The longest a cache may keep a thumbnail, however long its link lives. */
const MAX_CACHE_SECONDS = 86_400

export function mountThumbnailLinks(app: Hono, streams: StreamStore, links: ThumbnailLinks): void {
  app.use(`${THUMBNAIL_ROUTE}/*`, async (c, next) => {
    await next()
    c.res.headers.set('x-content-type-options', 'nosniff')
  })
  app.get(`${THUMBNAIL_ROUTE}/:stream/:file`, async (c) => {
    const streamId = c.req.param('stream')
    const eventId = /^([0-9a-f]{24})\.jpg$/.exec(c.req.param('file'))?.[1]
    const path = `${THUMBNAIL_ROUTE}/${encodeURIComponent(streamId)}/${c.req.param('file')}`
    const exp = c.req.query('exp')
    if (!eventId || !exp || !(await links.check(path, exp, c.req.query('sig')))) {
      throw new HttpError(403, 'bad_link', 'this thumbnail link is not valid or has expired')
    }
    const bytes = await streams.thumbnail(streamId, eventId)
    if (!bytes) throw new HttpError(404, 'not_found', 'this thumbnail is no longer kept')
    const maxAge = Math.min(MAX_CACHE_SECONDS, links.secondsLeft(exp))
    const headers = { 'content-type': 'image/jpeg', 'cache-control': `public, max-age=${maxAge}` }
    return c.body(bytes as Uint8Array<ArrayBuffer>, 200, headers)
  })
}
