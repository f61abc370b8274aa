/**
 * Removes delivery messages that their consumer has already acknowledged. nats-server 2.9 leaves such messages in
 * the work-queue stream when it crashes (kill -9, power loss, an out-of-memory kill): its consumer's state on disk
 * says acknowledged, the stream's removal of the message was not written. The server never hands them out again,
 * but they would count as pending deliveries forever and hold their event's copy (a copy goes only once no delivery
 * of it is left). Servers from 2.10.12 on remove them by themselves at start; then this finds nothing.
 *
 * A message at or below its consumer's ack floor (every message up to it acknowledged) is one of those: in a work
 * queue each message has exactly one consumer, and the floor only rises.
 * @module
 */
import type { NatsContext } from './queue-context.ts'
import { isNotFound } from './jetstream-setup.ts'
import { findMessage } from './message-exists.ts'

/** Delivery messages one pass looks at, at most (the rest wait for the next pass). */
const PASS_LIMIT = 50_000

/**
 * One pass over the delivery messages, oldest first, up to the highest ack floor: those at or below their consumer's
 * are removed. Ends early when `canRun` turns false. Returns how many it removed.
 */
export async function removeLeftoverDeliveries(ctx: NatsContext, canRun: () => boolean): Promise<number> {
  const { jsm, names } = ctx
  const deliveries = names.jetStreams.deliveries
  if (!canRun()) return 0
  const floors = await ackFloors(ctx)
  const highest = Math.max(0, ...floors.values())
  let removed = 0
  let seq = highest > 0 ? (await jsm.streams.info(deliveries)).state.first_seq : Infinity
  for (let looked = 0; looked < PASS_LIMIT && seq <= highest && canRun(); looked++) {
    const found = await findMessage(ctx, deliveries, { seq, next_by_subj: `${names.prefix}.deliver.>` })
    if (!found || found.seq > highest) break
    if (found.seq <= (floors.get(consumerToken(found.subject)) ?? 0)) {
      await jsm.streams.deleteMessage(deliveries, found.seq, false).then(
        () => removed++,
        (error: unknown) => {
          if (!isNotFound(error)) throw error
        },
      )
    }
    seq = found.seq + 1
  }
  if (removed > 0)
    ctx.log.warn('removed deliveries that NATS had kept after they were acknowledged (nats-server crashed)', {
      removed,
    })
  return removed
}

/** Each destination consumer's ack floor, by the destination's subject token. */
async function ackFloors({ jsm, names }: NatsContext): Promise<Map<string, number>> {
  const floors = new Map<string, number>()
  for await (const info of jsm.consumers.list(names.jetStreams.deliveries)) {
    if (names.destinationOf(info.name) !== undefined) floors.set(info.name, info.ack_floor.stream_seq)
  }
  return floors
}

/** `<prefix>.deliver.<token>.<eventSeq>`: the token, which is also the name of the destination's consumer. */
const consumerToken = (subject: string) => subject.split('.').at(-2) ?? ''
