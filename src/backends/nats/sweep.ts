/**
 * Event copies that no delivery will remove: a put that stored its event but not its deliveries (NATS went away in
 * between, and the hook was not sent again within the dedup window to complete it), or a copy whose last delivery
 * ended while the removal could not reach NATS. Each sweep reads a page of the events stream (headers only), from
 * where the last one stopped, and removes copies older than `olderThanMs` for which none of the destinations named
 * in their `Hookcast-Destinations` header has a delivery message. Past the young end it starts again from the
 * oldest.
 *
 * A copy younger than the dedup window may still be completed by a repeated put, so `olderThanMs` must exceed it.
 * @module
 */
import { AckPolicy, DeliverPolicy, type ConsumerConfig } from '@nats-io/jetstream'
import type { NatsContext } from './queue-context.ts'
import { pull } from './pull.ts'
import { readGroup } from './messages.ts'
import { isNotFound } from './jetstream-setup.ts'

export interface SweepResult {
  checked: number
  removed: number
}

export function orphanSweeper(ctx: NatsContext, pageSize: number): (olderThanMs: number) => Promise<SweepResult> {
  const { jsm, names, nc } = ctx
  const { events, deliveries } = names.streams
  let cursor = 0 // the next sequence to look at; 0: the oldest
  return async function sweep(olderThanMs) {
    const cutoff = ctx.now() - olderThanMs
    const consumer = await jsm.consumers.add(events, {
      ack_policy: AckPolicy.None,
      headers_only: true,
      mem_storage: true,
      num_replicas: 1,
      inactive_threshold: 60_000 * 1e6,
      ...(cursor > 0
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: cursor }
        : { deliver_policy: DeliverPolicy.All }),
    } as ConsumerConfig)
    const result: SweepResult = { checked: 0, removed: 0 }
    try {
      const { messages } = await pull(nc, events, consumer.name, { batch: pageSize, waitMs: 0, onLate() {} })
      let end = messages.length < pageSize
      for (const message of messages) {
        if (message.storedAt > cutoff) {
          end = true
          break
        }
        cursor = message.streamSeq + 1
        const group = readGroup(message.headers)
        if (!group) continue
        result.checked++
        const left = await Promise.all(
          group.map((destination) =>
            jsm.streams.getMessage(deliveries, { last_by_subj: names.delivery(destination, message.streamSeq) }),
          ),
        )
        if (left.some((found) => found !== null)) continue
        await jsm.streams.deleteMessage(events, message.streamSeq, false).then(
          () => result.removed++,
          (error: unknown) => {
            if (!isNotFound(error)) throw error
          },
        )
      }
      if (end) cursor = 0
    } finally {
      await jsm.consumers.delete(events, consumer.name).catch(() => {})
    }
    if (result.removed > 0) ctx.log.warn('removed events that no delivery referred to from NATS', { ...result })
    return result
  }
}
