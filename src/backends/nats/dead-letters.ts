/**
 * Dead letters in their JetStream stream: listed through a short-lived headers-only consumer (the bodies stay on the
 * server), replayed by copying each one's event back into the events stream with a fresh delivery, then removing it.
 * Any instance may do either, any number of times; a dead letter replayed by two at once is put back once (the copies
 * carry message ids derived from the dead letter's sequence, which JetStream's duplicate window drops).
 * @module
 */
import { AckPolicy, DeliverPolicy, type ConsumerConfig } from '@nats-io/jetstream'
import type { DeadLetter, DeadLetterFilter } from '../../queue/types.ts'
import { matchesFilter } from '../../queue/dead-letter.ts'
import type { NatsContext } from './queue-context.ts'
import { encodeDelivery, eventHeaders, readDead, readEventMeta } from './messages.ts'
import { pull } from './pull.ts'
import { isNotFound } from './jetstream-setup.ts'
import type { EventMeta } from '../../queue/loaded-event.ts'
import { bodyOf, needsChunks, purgeChunks, readChunkRef, setChunkRef, writeChunks } from './chunks.ts'

interface ListedDeadLetter {
  /** Its sequence in the dead-letter stream. */
  seq: number
  letter: DeadLetter
}

const PAGE = 256

export async function listDeadLetters(ctx: NatsContext, filter: DeadLetterFilter): Promise<ListedDeadLetter[]> {
  const { jsm, names, nc } = ctx
  const jetStream = names.jetStreams.dead
  const consumer = await jsm.consumers.add(jetStream, {
    ack_policy: AckPolicy.None,
    deliver_policy: DeliverPolicy.All,
    filter_subject: names.deadFilter(filter),
    headers_only: true,
    mem_storage: true,
    num_replicas: 1,
    inactive_threshold: 60_000 * 1e6,
  } as ConsumerConfig)
  const listed: ListedDeadLetter[] = []
  try {
    for (;;) {
      const { messages } = await pull(nc, jetStream, consumer.name, { batch: PAGE, waitMs: 0, onLate() {} })
      for (const message of messages) {
        const meta = readEventMeta(message.headers)
        const dead = readDead(message.headers)
        if (!meta || !dead) {
          ctx.log.warn('unreadable dead letter in NATS; left as it is', { jetStream, seq: message.streamSeq })
          continue
        }
        const letter: DeadLetter = {
          eventId: meta.id,
          destination: dead.destination,
          type: meta.type,
          event: meta.event,
          ...(meta.streamId ? { streamId: meta.streamId } : {}),
          receivedAt: meta.receivedAt,
          deadAt: dead.deadAt,
          attempts: dead.attempts,
        }
        if (matchesFilter(letter, filter)) listed.push({ seq: message.streamSeq, letter })
      }
      if (messages.length === 0 || messages.at(-1)!.pending === 0) break
    }
  } finally {
    await jsm.consumers.delete(jetStream, consumer.name).catch(() => {})
  }
  return listed.sort((a, b) => a.letter.deadAt - b.letter.deadAt || a.seq - b.seq)
}

/** Puts each matching dead letter back as a pending delivery with no attempts; returns how many this call put back. */
export async function replayDeadLetters(ctx: NatsContext, filter: DeadLetterFilter): Promise<number> {
  const { js, jsm, names } = ctx
  let count = 0
  for (const { seq, letter } of await listDeadLetters(ctx, filter)) {
    const stored = await jsm.streams.getMessage(names.jetStreams.dead, { seq })
    if (!stored) continue // replayed by someone else meanwhile
    const meta = readEventMeta(stored.header)
    if (!meta) continue
    const copy = await replayCopy(ctx, meta, await bodyOf(ctx, stored.header, stored.data), letter.destination, seq)
    await ctx.consumers.ensure(letter.destination)
    const delivery = await js.publish(
      names.delivery(letter.destination, copy.seq),
      encodeDelivery({
        eventId: meta.id,
        destination: letter.destination,
        eventSeq: copy.seq,
        group: [letter.destination],
        receivedAt: meta.receivedAt,
        since: ctx.now(),
        attempts: [],
        nextAt: 0,
      }),
      { msgID: `replay:${seq}`, timeout: ctx.requestTimeoutMs },
    )
    await jsm.streams.deleteMessage(names.jetStreams.dead, seq, false).catch((error: unknown) => {
      if (!isNotFound(error)) throw error
    })
    const deadChunks = readChunkRef(stored.header)
    if (deadChunks) await purgeChunks(ctx, deadChunks.subject)
    if (!delivery.duplicate) count++
  }
  return count
}

/** The dead letter's event as a new copy (in chunks when its body needs them), put once however often replayed. */
async function replayCopy(ctx: NatsContext, meta: EventMeta, body: Uint8Array, destination: string, seq: number) {
  const subject = ctx.names.event(meta.id)
  const headers = eventHeaders(meta, { group: [destination] })
  const chunks = needsChunks(ctx, body) ? await writeChunks(ctx, body, subject, ctx.requestTimeoutMs) : undefined
  if (chunks) setChunkRef(headers, chunks)
  const copy = await ctx.js.publish(subject, chunks ? new Uint8Array(0) : body, {
    headers,
    msgID: `replay:${seq}`,
    timeout: ctx.requestTimeoutMs,
  })
  if (chunks && copy.duplicate) await purgeChunks(ctx, chunks.subject)
  return copy
}
