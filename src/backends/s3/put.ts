/**
 * Storing an event and its deliveries.
 *
 * - Each delivery is created with `If-None-Match: *`: a delivery that exists (pending, or claimed) is not doubled,
 *   whoever repeats the hook. The event copy is written first and each put writes its own (a copy is never shared by
 *   two puts, so removing the last one's copy cannot race with a repeat adding deliveries). A copy no delivery took
 *   (all were pending already) is removed at once.
 * - Dedup: with a window, a repeat is `duplicate` when `seen/<eventId>` was written within the window. The marker is
 *   written after the deliveries, so a put that died half-way (Lambda killed, S3 gone) is completed by the repeat
 *   rather than taken for done. Without a marker, a put whose deliveries were all pending already is `duplicate` too.
 * @module
 */
import type { HookEvent } from '../../events/types.ts'
import { QueueFullError, type PutOptions, type Queue } from '../../queue/types.ts'
import { landed, type S3Context } from './queue-context.ts'
import { encodeDelivery, frame, newCopyId, newRev, type CopyHeader, type DeliveryState } from './delivery-objects.ts'
import { errorText } from '../../util/error-text.ts'
import { eventMeta } from '../../queue/loaded-event.ts'

const decoder = new TextDecoder()
const encoder = new TextEncoder()

export function s3Put(ctx: S3Context): Queue['put'] {
  const { keys, objects, log, now, windowMs } = ctx
  const putting = new Map<string, Promise<{ duplicate: boolean }>>()

  async function putOnce(
    event: HookEvent,
    destinations: readonly string[],
    notBefore: number,
  ): Promise<{ duplicate: boolean }> {
    const copy = newCopyId(event.receivedAt)
    const copyKey = keys.copy(event.id, copy)
    const group = [...new Set(destinations)]
    const [seen] = await Promise.all([
      windowMs > 0 ? objects.get(keys.seen(event.id)) : undefined,
      objects.put(copyKey, frame({ meta: eventMeta(event), group } satisfies CopyHeader, event.body)),
    ])
    if (seen && seenSince(seen.body) > now() - windowMs) {
      await objects.delete(copyKey).catch(() => {}) // else swept as an orphan
      return { duplicate: true }
    }
    const results = await Promise.all(
      group.map(async (destination) => {
        const key = keys.delivery(destination, event.id)
        const state: DeliveryState = {
          v: 1,
          eventId: event.id,
          destination,
          copy,
          group,
          receivedAt: event.receivedAt,
          since: event.receivedAt,
          attempts: [],
          nextAt: notBefore,
          rev: newRev(),
        }
        const etag = await objects.put(key, encodeDelivery(state), { ifNoneMatch: '*' })
        // Pending already (a repeat), unless the refused write is a retry of this very one (see `landed`).
        const created = etag !== 'conflict' ? { etag, state } : await landed(ctx, key, state.rev)
        if (created) ctx.cache.set(key, created)
        return created !== undefined
      }),
    )
    const added = results.filter(Boolean).length
    if (added === 0) await objects.delete(copyKey).catch(() => {})
    // Only now: a put that dies before this point is completed by the hook's repeat, not taken for done.
    if (windowMs > 0) await objects.put(keys.seen(event.id), encoder.encode(JSON.stringify({ at: now() })))
    if (added > 0) ctx.wake()
    return { duplicate: added === 0 }
  }

  async function put(
    event: HookEvent,
    destinations: readonly string[],
    putOptions: PutOptions = {},
  ): Promise<{ duplicate: boolean }> {
    if (ctx.state.closed) throw new QueueFullError('queue is closed')
    if (destinations.length === 0) return { duplicate: false }
    const earlier = putting.get(event.id)
    if (earlier) {
      // An identical put under way: answered once it is durable; put instead if it fails.
      if (
        await earlier.then(
          () => true,
          () => false,
        )
      )
        return { duplicate: true }
      return put(event, destinations, putOptions)
    }
    const work = putOnce(event, destinations, putOptions.notBefore ?? 0).catch((error: unknown) => {
      log.error('S3 did not take an event', { id: event.id, error: errorText(error) })
      throw new QueueFullError(`S3 did not take the event: ${errorText(error)}`, { cause: error })
    })
    putting.set(event.id, work)
    try {
      return await work
    } finally {
      if (putting.get(event.id) === work) putting.delete(event.id)
    }
  }

  return put
}

/** When a dedup marker was written (0 when it is unreadable: then it does not count). */
function seenSince(bytes: Uint8Array): number {
  try {
    const at = (JSON.parse(decoder.decode(bytes)) as { at?: unknown }).at
    return typeof at === 'number' ? at : 0
  } catch {
    return 0
  }
}
