/**
 * The local stream store's bounds. A new stream beyond `maxStreams` takes the place of an ended stream, and a
 * thumbnail beyond `maxThumbnailBytes` the bytes of ended streams' thumbnails; a live or ending stream never gives
 * way, so the new stream is refused (StreamLimitError, logged and counted; its hooks still reach every other
 * destination) or the thumbnail is not kept. Ended streams go `keepEndedMs` after their last change (the sweep).
 * @module
 */
import { checkStreamIdFits, StreamLimitError } from '../../streams/stream-types.ts'
import { refsOf, type LocalStreamStoreContext } from './stream-store-context.ts'
import { RETRY_MS } from './stream-record-files.ts'
import { withoutThumbnails } from '../../streams/stream-record.ts'

/** A thumbnail file written but not yet referred to by its record is left alone this long. */
const LOOSE_GRACE_MS = 60_000

/** Forgets a stream: its record at once, its files in the background (the promise never rejects). */
export function forget(ctx: LocalStreamStoreContext, streamId: string, why: string): Promise<void> {
  const { records, files, thumbs } = ctx
  const stored = records.get(streamId)
  if (!stored) return Promise.resolve()
  records.delete(streamId)
  ctx.order.drop(streamId)
  files.cancel(streamId)
  const names = refsOf(stored.record)
  for (const file of thumbs.looseOf(streamId)) names.add(file)
  return (async () => {
    await files.sync(streamId)
    for (const file of names) await thumbs.remove(file, streamId)
  })().catch((error) =>
    ctx.report.failed(
      'state-remove',
      "cannot remove a forgotten stream's file; it is removed at the next start",
      { stream: streamId, why },
      error,
    ),
  )
}

/** Makes room for one more record, if an ended stream can give its place. */
export function evictOne(ctx: LocalStreamStoreContext): boolean {
  const streamId = ctx.order.first()
  if (streamId === undefined) return false
  ctx.log.info('stream state full: forgetting an ended stream', { stream: streamId, maxStreams: ctx.maxStreams })
  ctx.report.limit('stream_evicted')
  void forget(ctx, streamId, 'evicted')
  return true
}

/** Refuses a new stream when it cannot be kept (after making room if an ended stream can give its place). */
export async function admit(ctx: LocalStreamStoreContext, streamId: string): Promise<void> {
  const { maxStreams, thumbs } = ctx
  checkStreamIdFits(streamId, (what) => ctx.report.limit(what))
  if (ctx.records.size < maxStreams || evictOne(ctx)) return
  ctx.report.limit('streams_full')
  ctx.log.warn('stream state full of live streams: a new stream is not tracked (raise streams.maxStreams)', {
    stream: streamId.slice(0, 100),
    maxStreams,
  })
  for (const file of thumbs.looseOf(streamId)) await thumbs.remove(file, streamId)
  throw new StreamLimitError(
    'streams_full',
    `stream state full: every one of the ${maxStreams} stream records is a live stream`,
  )
}

/** Frees at least `needed` bytes of thumbnails of ended streams (oldest first); resolves what it freed. */
export async function freeThumbnailBytes(
  ctx: LocalStreamStoreContext,
  needed: number,
  except: string,
): Promise<number> {
  const { files, thumbs } = ctx
  let freed = 0
  for (const { streamId, hadSession } of ctx.order.all()) {
    if (freed >= needed) break
    const stored = ctx.records.get(streamId)
    if (!stored || streamId === except) continue
    const names = refsOf(stored.record)
    if (names.size === 0) continue
    for (const file of names) freed += thumbs.size(file) ?? 0
    if (!hadSession) {
      await forget(ctx, streamId, 'thumbnail bytes') // known from thumbnails alone: nothing left worth keeping
      continue
    }
    // A new object, not a change in place: a reader may hold the stored one (`peek`).
    stored.record = withoutThumbnails(stored.record)
    stored.revision = ++ctx.revision
    try {
      await files.sync(streamId)
    } catch (error) {
      files.later(streamId, RETRY_MS)
      ctx.report.failed('state-write', 'cannot save stream state; retrying', { stream: streamId }, error)
    }
    for (const file of names) await thumbs.remove(file, streamId)
  }
  return freed
}

/** Forgets ended streams past `keepEndedMs`, and removes loose thumbnail files no record took up. */
export async function sweep(ctx: LocalStreamStoreContext): Promise<number> {
  const cutoff = ctx.now() - ctx.keepEndedMs
  let expired = 0
  for (const { streamId } of ctx.order.all()) {
    const stored = ctx.records.get(streamId)
    if (stored && stored.record.updatedAt < cutoff) {
      await forget(ctx, streamId, 'expired')
      ctx.report.limit('stream_expired')
      expired++
    }
  }
  await ctx.thumbs.sweep(ctx.now() - LOOSE_GRACE_MS, (file, streamId) =>
    refsOf(ctx.records.get(streamId)?.record).has(file),
  )
  if (expired > 0) ctx.log.info('forgot ended streams past streams.keepEnded', { streams: expired })
  return expired
}
