/**
 * What the NATS queue holds, read from the server so every instance reports the same backlog: the JetStream
 * streams' message counts and bytes, and each destination's deliveries from its consumer.
 * @module
 */
import type { QueueStats } from '../../queue/types.ts'
import type { NatsContext } from './queue-context.ts'
import { decodeDelivery } from './messages.ts'

/** Destinations with deliveries on the server (pending, or handed out and not acked yet), with how many. */
export async function destinationBacklogs(ctx: NatsContext): Promise<Array<[destination: string, deliveries: number]>> {
  const backlogs: Array<[string, number]> = []
  for await (const info of ctx.jsm.consumers.list(ctx.names.jetStreams.deliveries)) {
    const destination = ctx.names.destinationOf(info.name)
    const count = info.num_pending + info.num_ack_pending
    if (destination !== undefined && count > 0) backlogs.push([destination, count])
  }
  return backlogs
}

export async function natsQueueStats(ctx: NatsContext): Promise<QueueStats> {
  const { jsm, names, now } = ctx
  const jetStreams = names.jetStreams
  const [events, deliveries, dead, chunks] = await Promise.all(
    [jetStreams.events, jetStreams.deliveries, jetStreams.dead, jetStreams.chunks].map((name) =>
      jsm.streams.info(name),
    ),
  )
  const destinations: Record<string, number> = Object.create(null)
  for (const [destination, count] of await destinationBacklogs(ctx)) destinations[destination] = count
  // Approximate: the age of the first delivery message stored, which is the oldest event's unless an older
  // one's delivery was stored again since (a retry).
  let oldestPendingAgeMs = 0
  if (deliveries!.state.messages > 0) {
    const first = await jsm.streams
      .getMessage(jetStreams.deliveries, { seq: deliveries!.state.first_seq })
      .catch(() => null)
    const record = first ? decodeDelivery(first.data) : undefined
    const since = record?.receivedAt ?? Date.parse(deliveries!.state.first_ts)
    oldestPendingAgeMs = Number.isFinite(since) ? Math.max(0, now() - since) : 0
  }
  return {
    pendingEvents: events!.state.messages,
    pendingDeliveries: deliveries!.state.messages,
    deadLetters: dead!.state.messages,
    bytes: events!.state.bytes + deliveries!.state.bytes + dead!.state.bytes + chunks!.state.bytes,
    oldestPendingAgeMs,
    destinations,
  }
}
