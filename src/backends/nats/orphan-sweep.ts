/**
 * Removes event copies that no delivery will remove: a put that stored its event but not its deliveries (NATS went
 * away in between, and no repeat of the hook completed it), or a copy whose last delivery ended while NATS was away.
 * A copy younger than the dedup window may still be completed by a repeated put, so only older ones go. Body chunks
 * that nothing names any more (a put cut off between them, a replaced dead letter) go the same way.
 * @module
 */
import { AckPolicy, DeliverPolicy, type ConsumerConfig } from '@nats-io/jetstream'
import type { Logger } from '../../log.ts'
import type { NatsContext } from './queue-context.ts'
import { pull } from './pull.ts'
import { readGroup } from './messages.ts'
import { isNotFound } from './jetstream-setup.ts'
import { messageExists } from './message-exists.ts'
import { ownerOf, purgeChunks, readChunkRef } from './chunks.ts'
import { errorText } from '../../util/error-text.ts'

export interface SweepResult {
  checked: number
  removed: number
}

/**
 * Each call reads a page of the events stream (headers only) from where the last one stopped, and removes the
 * copies older than `olderThanMs` whose destinations (their `Hookcast-Destinations` header) have no delivery
 * message left. Past the young end, the next call starts again from the oldest.
 */
export function orphanSweeper(ctx: NatsContext, pageSize: number): (olderThanMs: number) => Promise<SweepResult> {
  const { jsm, names, nc } = ctx
  const { events, deliveries } = names.jetStreams
  let cursor = 0 // the next sequence to look at; 0: the oldest
  const chunksAt = { cursor: 0 }
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
            messageExists(ctx, deliveries, { last_by_subj: names.delivery(destination, message.streamSeq) }),
          ),
        )
        if (left.some(Boolean)) continue
        await jsm.streams.deleteMessage(events, message.streamSeq, false).then(
          () => result.removed++,
          (error: unknown) => {
            if (!isNotFound(error)) throw error
          },
        )
        const chunks = readChunkRef(message.headers)
        if (chunks) await purgeChunks(ctx, chunks.subject)
      }
      if (end) cursor = 0
    } finally {
      await jsm.consumers.delete(events, consumer.name).catch(() => {})
    }
    const chunkSubjects = await sweepChunks(ctx, cutoff, chunksAt)
    if (chunkSubjects > 0) ctx.log.warn('removed body chunks that nothing referred to from NATS', { chunkSubjects })
    if (result.removed > 0) ctx.log.warn('removed events that no delivery referred to from NATS', { ...result })
    return result
  }
}

/** Chunks looked at per sweep. */
const CHUNK_PAGE = 1_000

/**
 * Removes the body chunks older than `cutoff` that no message names any more: those of a put cut off before its copy
 * was stored, or of a dead letter replaced by a later one. Each chunk names the subject of its owner, whose last
 * message must name the chunks' subject. Returns how many chunk subjects were removed.
 */
async function sweepChunks(ctx: NatsContext, cutoff: number, at: { cursor: number }): Promise<number> {
  const { jsm, names, nc } = ctx
  const consumer = await jsm.consumers.add(names.jetStreams.chunks, {
    ack_policy: AckPolicy.None,
    headers_only: true,
    mem_storage: true,
    num_replicas: 1,
    inactive_threshold: 60_000 * 1e6,
    ...(at.cursor > 0
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: at.cursor }
      : { deliver_policy: DeliverPolicy.All }),
  } as ConsumerConfig)
  const checked = new Set<string>()
  let removed = 0
  try {
    const { messages } = await pull(nc, names.jetStreams.chunks, consumer.name, {
      batch: CHUNK_PAGE,
      waitMs: 0,
      onLate() {},
    })
    at.cursor = messages.length < CHUNK_PAGE ? 0 : messages.at(-1)!.streamSeq + 1 // past the end: the oldest again
    for (const message of messages) {
      if (message.storedAt > cutoff) {
        at.cursor = 0
        break
      }
      if (checked.has(message.subject)) continue
      checked.add(message.subject)
      if (await stillNamed(ctx, ownerOf(message.headers), message.subject)) continue
      await purgeChunks(ctx, message.subject)
      removed++
    }
  } finally {
    await jsm.consumers.delete(names.jetStreams.chunks, consumer.name).catch(() => {})
  }
  return removed
}

/**
 * Whether a message on `owner` names the chunks at `subject`. A dead letter is the one message of its subject; event
 * copies of one id may be several (a replay beside the original), read in turn with Direct Get; when they cannot be,
 * the chunks are kept.
 */
async function stillNamed(ctx: NatsContext, owner: string | undefined, subject: string): Promise<boolean> {
  const { jsm, names } = ctx
  if (!owner) return false
  if (owner.startsWith(`${names.prefix}.dead.`)) {
    const letter = await jsm.streams.getMessage(names.jetStreams.dead, { last_by_subj: owner })
    return readChunkRef(letter?.header)?.subject === subject
  }
  if (!ctx.directGet) return true
  for (let seq = 1, copies = 0; copies < 100; copies++) {
    const copy = await jsm.direct.getMessage(names.jetStreams.events, { seq, next_by_subj: owner })
    if (!copy) return false
    if (readChunkRef(copy.header)?.subject === subject) return true
    seq = copy.seq + 1
  }
  return true
}

export interface OrphanSweeps {
  /** Sweeps copies older than `olderThanMs` (default: the settings'); a call while a sweep runs gets its result. */
  sweep(olderThanMs?: number): Promise<SweepResult>
  /** No more sweeps by the timer; resolves once the one under way ended. */
  stop(): Promise<void>
}

interface OrphanSweepSettings {
  /** How often the timer sweeps, ms; 0: never. */
  everyMs: number
  /** The age of the copies a sweep removes unless told otherwise, ms. */
  olderThanMs: number
  /** Whether the timer may sweep now (the connection is up and the queue open). */
  canRun(): boolean
  log: Logger
}

/** Runs `sweep` one at a time in this instance: every `everyMs` by itself, and when asked. */
export function orphanSweeps(
  sweep: (olderThanMs: number) => Promise<SweepResult>,
  settings: OrphanSweepSettings,
): OrphanSweeps {
  let sweeping: Promise<SweepResult> | undefined
  const once = (olderThanMs = settings.olderThanMs) =>
    (sweeping ??= sweep(olderThanMs).finally(() => {
      sweeping = undefined
    }))
  const timer =
    settings.everyMs > 0
      ? setInterval(() => {
          if (settings.canRun() && !sweeping)
            once().catch((error) => settings.log.warn('cannot sweep NATS events', { error: errorText(error) }))
        }, settings.everyMs)
      : undefined
  ;(timer as { unref?: () => void } | undefined)?.unref?.()
  return {
    sweep: once,
    async stop() {
      clearInterval(timer)
      await sweeping?.catch(() => {})
    },
  }
}
