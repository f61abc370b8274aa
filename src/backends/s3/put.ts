/**
 * `put` on S3. The event copy is written first, one per put, so removing a finished put's copy never races a repeat
 * that adds deliveries; each delivery is then created with `If-None-Match: *`, so a pending one is never doubled,
 * whoever repeats the hook. With a dedup window, `seen/<eventId>` marks the put done; it is written last, so a put that
 * died half-way (Lambda killed, S3 gone) is completed by the repeat rather than taken for done.
 * @module
 */
import type { HookEvent } from '../../events/types.ts'
import { QueueFullError, type PutOptions, type Queue } from '../../queue/types.ts'
import { createDelivery, newDelivery, type S3Context } from './queue-context.ts'
import { frame, newCopyId, type CopyHeader } from './delivery-objects.ts'
import { errorText } from '../../util/error-text.ts'
import { eventMeta } from '../../queue/loaded-event.ts'

const decoder = new TextDecoder()
const encoder = new TextEncoder()

/** Puts under way in this process, by event id: a repeat of one is answered by it. */
type Putting = Map<string, Promise<{ duplicate: boolean }>>

export function s3Put(ctx: S3Context): Queue['put'] {
  const putting: Putting = new Map()
  return (event, destinations, options) => put(ctx, putting, event, destinations, options)
}

async function put(
  ctx: S3Context,
  putting: Putting,
  event: HookEvent,
  destinations: readonly string[],
  options: PutOptions = {},
): Promise<{ duplicate: boolean }> {
  if (ctx.state.closed) throw new QueueFullError('queue is closed')
  if (destinations.length === 0) return { duplicate: false }
  const earlier = putting.get(event.id)
  if (earlier) {
    // An identical put under way: answered once it is durable; put instead if it fails.
    const stored = await earlier.then(
      () => true,
      () => false,
    )
    return stored ? { duplicate: true } : put(ctx, putting, event, destinations, options)
  }
  const work = putOnce(ctx, event, destinations, options.notBefore ?? 0).catch((error: unknown) => {
    ctx.log.error('S3 did not take an event', { id: event.id, error: errorText(error) })
    throw new QueueFullError(`S3 did not take the event: ${errorText(error)}`, { cause: error })
  })
  putting.set(event.id, work)
  try {
    return await work
  } finally {
    if (putting.get(event.id) === work) putting.delete(event.id)
  }
}

async function putOnce(
  ctx: S3Context,
  event: HookEvent,
  destinations: readonly string[],
  notBefore: number,
): Promise<{ duplicate: boolean }> {
  const { keys, objects, now, windowMs } = ctx
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
  const created = await Promise.all(
    group.map((destination) =>
      createDelivery(
        ctx,
        newDelivery({
          eventId: event.id,
          destination,
          copy,
          group,
          receivedAt: event.receivedAt,
          since: event.receivedAt,
          nextAt: notBefore,
        }),
      ),
    ),
  )
  const added = created.filter(Boolean).length
  if (added === 0) await objects.delete(copyKey).catch(() => {}) // every delivery was pending: the copy is not needed
  // Only now: a put that dies before this point is completed by the hook's repeat, not taken for done.
  if (windowMs > 0) await objects.put(keys.seen(event.id), encoder.encode(JSON.stringify({ at: now() })))
  if (added > 0) ctx.wake()
  return { duplicate: added === 0 } // all pending already: a repeat, with or without a window
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
