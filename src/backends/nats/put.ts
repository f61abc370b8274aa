/**
 * `put` on NATS: the event once in `<prefix>-events`, then one small delivery message per destination in the
 * work-queue JetStream stream `<prefix>-deliveries`; it resolves once JetStream acknowledged them all. The event's id
 * is its message id, so a repeated hook is dropped whichever instance it reached; a repeat still publishes its
 * deliveries (under ids the deliveries stream drops when they exist), so it completes a put that died half-way.
 * @module
 */
import type { PubAck } from '@nats-io/jetstream'
import { QueueFullError, type Queue } from '../../queue/types.ts'
import type { DedupWindow } from '../../queue/dedup.ts'
import type { NatsContext, QueueState } from './queue-context.ts'
import { encodeDelivery, eventHeaders } from './messages.ts'
import { errorText } from '../../util/error-text.ts'
import { eventMeta } from '../../queue/loaded-event.ts'
import type { HookEvent } from '../../events/types.ts'
import { needsChunks, purgeChunks, setChunkRef, writeChunks } from './chunks.ts'

interface PutSettings {
  /** 0: no dedup (no `Nats-Msg-Id` on the event). */
  dedupWindowMs: number
  /**
   * Ids of puts that completed, kept for the window where a restart of nats-server does not forget them (a KV bucket
   * on disk): JetStream rebuilds its duplicate window from the messages still stored, and a delivered event's copy is
   * gone. Remembered only once a put completed, so a put cut off half-way is still completed by its repeat.
   */
  completed?: DedupWindow
  /** A put not acknowledged within this long rejects with QueueFullError (NATS lost and not noticed yet), ms. */
  publishTimeoutMs: number
}

export function natsPut(ctx: NatsContext, state: QueueState, settings: PutSettings): Queue['put'] {
  const { js, names, consumers } = ctx
  const { publishTimeoutMs } = settings
  return async function put(event, destinations, putOptions = {}) {
    if (state.closed) throw new QueueFullError('queue is closed')
    // 503 at once while NATS is away; the client reconnects by itself.
    if (!state.up) throw new QueueFullError('NATS is unreachable')
    if (destinations.length === 0) return { duplicate: false }
    // Unreadable (NATS just came back): taken as new, so the hook is delivered at least once rather than lost.
    if (settings.completed && (await settings.completed.has(event.id).catch(() => false))) return { duplicate: true }
    try {
      const stored = await storeCopy(ctx, event, destinations, settings)
      const group = [...destinations]
      await Promise.all(
        group.map(async (destination) => {
          await consumers.ensure(destination)
          await js.publish(
            names.delivery(destination, stored.seq),
            encodeDelivery({
              eventId: event.id,
              destination,
              eventSeq: stored.seq,
              group,
              receivedAt: event.receivedAt,
              since: event.receivedAt,
              attempts: [],
              nextAt: putOptions.notBefore ?? 0,
            }),
            { msgID: `put:${stored.seq}:${destination}`, timeout: publishTimeoutMs },
          )
        }),
      )
      await settings.completed?.remember(event.id).catch(() => {}) // a miss only weakens dedup after a restart
      return { duplicate: stored.duplicate }
    } catch (error) {
      throw new QueueFullError(`NATS did not take the event: ${errorText(error)}`, { cause: error })
    }
  }
}

/**
 * Stores the event's copy; a body larger than one message goes in chunks first (chunks.ts). A repeat's chunks are
 * removed again: the copy JetStream already has names its own.
 */
async function storeCopy(
  ctx: NatsContext,
  event: HookEvent,
  destinations: readonly string[],
  settings: PutSettings,
): Promise<PubAck> {
  const headers = eventHeaders(eventMeta(event), { group: destinations })
  const subject = ctx.names.event(event.id)
  const chunks = needsChunks(ctx, event.body)
    ? await writeChunks(ctx, event.body, subject, settings.publishTimeoutMs)
    : undefined
  if (chunks) setChunkRef(headers, chunks)
  // A copy that timed out may be stored all the same: its chunks stay (the sweep removes them if it is not).
  const stored = await ctx.js.publish(subject, chunks ? new Uint8Array(0) : event.body, {
    headers,
    timeout: settings.publishTimeoutMs,
    ...(settings.dedupWindowMs > 0 ? { msgID: event.id } : {}),
  })
  if (chunks && stored.duplicate) await purgeChunks(ctx, chunks.subject).catch(() => {})
  return stored
}
