/**
 * The claim side of the NATS queue: pulling deliveries from the destinations' consumers and holding the due ones.
 *
 * A claim with a destination waits on the server (a pull with `expires`). One without a destination goes through
 * the destinations that have deliveries (the consumers' counts) and waits by polling them, woken at once by any
 * delivery published by any instance (a core subscription to the delivery subjects). The worker always names its
 * destination; the other form serves tools and tests.
 *
 * JetStream 2.9 has no scheduled messages, so a delivery not due yet (`nextAt`) is pulled like any other and given
 * back at once with `-NAK` and the remaining delay; a nak is not an attempt (attempts live in the message).
 * @module
 */
import type { Claim, Queue } from '../../queue/types.ts'
import type { NatsContext, QueueState } from './queue-context.ts'
import type { Leases } from './leases.ts'
import { ACK, nakAfter, pull, sendAck, type PulledMessage } from './pull.ts'
import { decodeDelivery } from './messages.ts'
import { destinationBacklogs } from './stats.ts'
import { sleep } from '../../util/sleep.ts'

/** How often a claim without a destination looks again while it waits (deliveries due after a delay, lost leases). */
const POLL_MS = 200

/**
 * `Queue.claim` on NATS. `closing` aborts every wait when the queue closes; a claim made while the connection is
 * down waits out its `waitMs` and finds nothing, as a claim with nothing due would.
 */
export function natsClaims(ctx: NatsContext, leases: Leases, state: QueueState, closing: AbortSignal): Queue['claim'] {
  const { nc, names, log, now, consumers } = ctx
  const stream = names.streams.deliveries

  /** A pulled delivery: a claim when due; given back with the remaining delay when not. */
  function take(message: PulledMessage, leaseMs: number, pulledAt: number): Claim | undefined {
    const record = decodeDelivery(message.data)
    if (!record) {
      log.error('unreadable delivery message in NATS; removed', {
        stream,
        seq: message.streamSeq,
        subject: message.subject,
      })
      sendAck(nc, message.reply, ACK)
      return undefined
    }
    const early = record.nextAt - now()
    if (early > 0) {
      sendAck(nc, message.reply, nakAfter(early))
      return undefined
    }
    return leases.hold(message, record, leaseMs, pulledAt)
  }

  async function claimFrom(
    destination: string,
    max: number,
    leaseMs: number,
    deadline: number,
    signal: AbortSignal,
  ): Promise<Claim[]> {
    const claims: Claim[] = []
    for (let pause = 10; ; ) {
      const waitMs = Math.max(0, deadline - now())
      const pulledAt = now()
      const result = await pull(nc, stream, names.consumer(destination), {
        batch: max - claims.length,
        waitMs,
        signal,
        now,
        onLate: (late) => sendAck(nc, late.reply, nakAfter(0)),
      })
      if (result.unanswered) consumers.forget(destination) // deleted behind our back? made again next time
      if (state.closed) {
        for (const message of result.messages) sendAck(nc, message.reply, nakAfter(0)) // closing: not handed out
        return claims
      }
      for (const message of result.messages) {
        // The server's ack wait runs from when it handed the message out, not from when this pull began to wait.
        const claim = take(message, leaseMs, message.arrivedAt ?? pulledAt)
        if (claim) claims.push(claim)
      }
      if (claims.length > 0 || signal.aborted || state.closed || now() >= deadline) return claims
      if (result.crowded) {
        await sleep(Math.min(pause, deadline - now()), signal)
        pause = Math.min(pause * 2, 200)
      }
    }
  }

  let wakeups: Set<() => void> | undefined
  /** Resolves after `ms`, or as soon as a delivery is published (by any instance), or on `signal`. */
  function nap(ms: number, signal: AbortSignal): Promise<void> {
    if (!wakeups) {
      const set = (wakeups = new Set())
      nc.subscribe(`${names.prefix}.deliver.>`, {
        callback: () => {
          for (const wake of [...set]) wake()
        },
      })
    }
    const set = wakeups
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer)
        set.delete(wake)
        signal.removeEventListener('abort', wake)
        resolve()
      }
      const timer = setTimeout(wake, Math.max(0, ms))
      set.add(wake)
      signal.addEventListener('abort', wake, { once: true })
    })
  }

  async function claimAny(max: number, leaseMs: number, deadline: number, signal: AbortSignal): Promise<Claim[]> {
    for (;;) {
      const claims: Claim[] = []
      for (const [destination] of await destinationBacklogs(ctx)) {
        if (claims.length >= max || signal.aborted) break
        claims.push(...(await claimFrom(destination, max - claims.length, leaseMs, 0, signal)))
      }
      if (claims.length > 0 || signal.aborted || state.closed || now() >= deadline) return claims
      await nap(Math.min(POLL_MS, deadline - now()), signal)
    }
  }

  return async function claim({ destination, max, leaseMs, waitMs = 0, signal }) {
    if (state.closed || max <= 0) return []
    const stop = signal ? AbortSignal.any([signal, closing]) : closing
    const deadline = now() + waitMs
    if (!state.up) {
      // Nothing to ask while NATS is away: wait as a claim with nothing due would.
      await sleep(waitMs, stop)
      return []
    }
    if (destination === undefined) return claimAny(max, leaseMs, deadline, stop)
    await consumers.ensure(destination)
    return claimFrom(destination, max, leaseMs, deadline, stop)
  }
}
