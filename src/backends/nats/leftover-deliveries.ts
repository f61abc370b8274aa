/**
 * Removes delivery messages that their consumer has already acknowledged. nats-server 2.9 leaves such messages in
 * the work-queue stream when it crashes (kill -9, power loss, an out-of-memory kill): its consumer's state on disk
 * says acknowledged, the stream's removal of the message was not written. The server never hands them out again,
 * but they would count as pending deliveries forever and hold their event's copy (a copy goes only once no delivery
 * of it is left). Servers from 2.10.12 on remove them by themselves at start; then this finds nothing.
 *
 * A message at or below its consumer's ack floor (every message up to it acknowledged) is one of those: in a work
 * queue each message has exactly one consumer, and the floor only rises. A pass costs one request per destination and
 * two per message it removes.
 * @module
 */
import type { NatsContext } from './queue-context.ts'
import { isNotFound } from './jetstream-setup.ts'
import { findMessage } from './message-exists.ts'

/**
 * One pass: for each destination, its delivery messages at or below its consumer's ack floor are removed (its own
 * pending ones are above the floor, so each look finds one to remove or ends the destination's walk). Ends early when
 * `canRun` turns false. Returns how many it removed.
 */
export async function removeLeftoverDeliveries(ctx: NatsContext, canRun: () => boolean): Promise<number> {
  if (!canRun()) return 0
  let removed = 0
  for (const [destination, floor] of await ackFloors(ctx)) removed += await removeUpTo(ctx, destination, floor, canRun)
  if (removed > 0)
    ctx.log.warn('removed deliveries that NATS had kept after they were acknowledged (nats-server crashed)', {
      removed,
    })
  return removed
}

/** Removes `destination`'s delivery messages up to sequence `floor`, oldest first. */
async function removeUpTo(ctx: NatsContext, destination: string, floor: number, canRun: () => boolean) {
  const { jsm, names } = ctx
  const deliveries = names.jetStreams.deliveries
  let removed = 0
  for (let seq = 1; seq <= floor && canRun(); ) {
    const found = await findMessage(ctx, deliveries, { seq, next_by_subj: names.deliveries(destination) })
    if (!found || found.seq > floor) break
    await jsm.streams.deleteMessage(deliveries, found.seq, false).then(
      () => removed++,
      (error: unknown) => {
        if (!isNotFound(error)) throw error
      },
    )
    seq = found.seq + 1
  }
  return removed
}

/** Each destination's ack floor: the highest sequence up to which its consumer has every message acknowledged. */
async function ackFloors({ jsm, names }: NatsContext): Promise<Map<string, number>> {
  const floors = new Map<string, number>()
  for await (const info of jsm.consumers.list(names.jetStreams.deliveries)) {
    const destination = names.destinationOf(info.name)
    if (destination !== undefined && info.ack_floor.stream_seq > 0) floors.set(destination, info.ack_floor.stream_seq)
  }
  return floors
}
