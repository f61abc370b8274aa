/**
 * The local queue's writes to its segment log: an event with the state of its pending deliveries (E), and each
 * change of a delivery's state (D delivered, A attempted or deferred, X dead); and where a written or scanned event
 * lands in the index.
 * @module
 */
import { QueueFullError, type Delivery } from '../../queue/types.ts'
import type { EventHeader, LocalQueueContext } from './queue-context.ts'
import { encodeRecord } from './log-record.ts'

/** Adds an E record's event (or the same event written again) to the index; returns its new deliveries. */
export function placeEvent(
  queue: Pick<LocalQueueContext, 'index' | 'replayed'>,
  header: EventHeader,
  segment: number,
  bodyOffset: number,
  bodyLength: number,
  body?: Uint8Array,
): Delivery[] {
  const { deliveries, replay, ...meta } = header
  if (replay) queue.replayed.add(replay)
  const stored = queue.index.place(meta, segment, bodyOffset, bodyLength, body)
  const added: Delivery[] = []
  for (const [destination, state] of Object.entries(deliveries)) {
    if (stored.pending.has(destination)) continue
    stored.pending.add(destination)
    added.push({
      eventId: meta.id,
      destination,
      receivedAt: meta.receivedAt,
      since: state.since,
      attempts: state.attempts,
      nextAt: state.nextAt,
    })
  }
  return added
}

/** Writes an event and its deliveries, then hands the new deliveries to the board. */
export async function appendEvent(ctx: LocalQueueContext, header: EventHeader, body: Uint8Array): Promise<Delivery[]> {
  const { segments, log } = ctx
  const parts = encodeRecord('E', header, body)
  const size = parts.reduce((n, p) => n + p.byteLength, 0)
  // Dead letters count too: they wait on the same disk until someone replays or removes them.
  if (segments.totalBytes() + ctx.dead.bytes + size > ctx.maxBytes) {
    throw new QueueFullError(`queue is full (spool.maxBytes = ${ctx.maxBytes})`)
  }
  let ref: Awaited<ReturnType<typeof segments.append>>
  try {
    ref = await segments.append(parts)
  } catch (error) {
    log.error('queue write failed', { error: String((error as Error).message ?? error) })
    throw new QueueFullError(`queue write failed: ${(error as Error).message}`)
  }
  const added = placeEvent(ctx, header, ref.segment, ref.offset + parts[0]!.byteLength, body.byteLength, body)
  for (const delivery of added) ctx.board.add(delivery)
  return added
}

export async function appendState(
  ctx: LocalQueueContext,
  kind: 'D' | 'A' | 'X',
  header: Record<string, unknown>,
): Promise<void> {
  // Delivered and failed-attempt records are not synced on their own (they ride along with the next sync):
  // losing one with the page cache only makes a delivery again. A move to the dead letters is synced.
  await ctx.segments.append(encodeRecord(kind, header), kind === 'X')
}
