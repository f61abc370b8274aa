/**
 * HTTP routes over the stream state: the signed thumbnail links given to Slack.
 * @module
 */
import type { Hono } from 'hono'
import type { StreamStore } from '../state/stream-store.ts'
import { THUMBNAIL_ROUTE, type ThumbnailLinks } from './thumbnail-url.ts'
import { HttpError } from '../http/errors.ts'

export function mountThumbnailLinks(app: Hono, streams: StreamStore, links: ThumbnailLinks): void {
  app.get(`${THUMBNAIL_ROUTE}/:stream/:file`, async (c) => {
    const streamId = c.req.param('stream')
    const eventId = /^([0-9a-f]{24})\.jpg$/.exec(c.req.param('file'))?.[1]
    const path = `${THUMBNAIL_ROUTE}/${encodeURIComponent(streamId)}/${c.req.param('file')}`
    if (!eventId || !(await links.check(path, c.req.query('exp'), c.req.query('sig')))) {
      throw new HttpError(403, 'bad_link', 'this thumbnail link is not valid or has expired')
    }
    const bytes = await streams.thumbnail(streamId, eventId)
    if (!bytes) throw new HttpError(404, 'not_found', 'this thumbnail is no longer kept')
    return c.body(bytes as Uint8Array<ArrayBuffer>, 200, { 'content-type': 'image/jpeg', 'cache-control': 'public, max-age=86400, immutable' })
  })
}
