/**
 * The claim side of the NATS queue: pulling due deliveries from the destinations' consumers and holding them. A
 * claim without a destination (tools and tests; the worker always names one) polls the destinations that have
 * deliveries, woken at once by any instance's publish. JetStream 2.9 has no scheduled messages, so a delivery not due
 * yet is pulled like any other and given back with `-NAK` and the remaining delay (which is not an attempt).
 * @module
 */
import type { Claim, Queue } from '../../queue/types.ts'
import type { NatsContext, QueueState } from './queue-context.ts'
import type { Leases } from './leases.ts'
import { ACK, nakAfter, pull, sendAck, type PulledMessage } from './pull.ts'
import { decodeDelivery } from './messages.ts'
import { destinationBacklogs } from './queue-stats.ts'
import { sleep } from '../../util/sleep.ts'

/** How often a claim without a destination looks again while it waits (deliveries due after a delay, lost leases). */
const POLL_MS = 200

/** What the steps below share: the queue's context, the claims this instance holds, and the wait for a publish. */
interface ClaimContext extends NatsContext {
  leases: Leases
  state: QueueState
  nap: Nap
}

/** One claim's bounds: at most `max` claims, held `leaseMs` each, looked for until `deadline` or `signal`. */
interface ClaimRequest {
  max: number
  leaseMs: number
  deadline: number
  signal: AbortSignal
}

/**
 * `Queue.claim` on NATS. `closing` aborts every wait when the queue closes; a claim made while the connection is
 * down waits out its `waitMs` and finds nothing, as a claim with nothing due would.
 */
export function natsClaims(ctx: NatsContext, leases: Leases, state: QueueState, closing: AbortSignal): Queue['claim'] {
  const parts: ClaimContext = { ...ctx, leases, state, nap: deliveryNap(ctx) }
  return async function claim({ destination, max, leaseMs, waitMs = 0, signal }) {
    if (state.closed || max <= 0) return []
    const stop = signal ? AbortSignal.any([signal, closing]) : closing
    const request = { max, leaseMs, deadline: ctx.now() + waitMs, signal: stop }
    if (!state.up) {
      // Nothing to ask while NATS is away: wait as a claim with nothing due would.
      await sleep(waitMs, stop)
      return []
    }
    if (destination === undefined) return claimAny(parts, request)
    await ctx.consumers.ensure(destination)
    return claimFrom(parts, destination, request)
  }
}

/** Claims from one destination's consumer, waiting on the server (a pull with `expires`) until the deadline. */
async function claimFrom(ctx: ClaimContext, destination: string, request: ClaimRequest): Promise<Claim[]> {
  const { nc, names, now, state } = ctx
  const { max, leaseMs, deadline, signal } = request
  const claims: Claim[] = []
  for (let pause = 10; ; ) {
    const waitMs = Math.max(0, deadline - now())
    const pulledAt = now()
    const result = await pull(nc, names.jetStreams.deliveries, names.consumer(destination), {
      batch: max - claims.length,
      waitMs,
      signal,
      now,
      onLate: (late) => sendAck(nc, late.reply, nakAfter(0)),
    })
    if (result.unanswered) ctx.consumers.forget(destination) // deleted behind our back? made again next time
    if (state.closed) {
      for (const message of result.messages) sendAck(nc, message.reply, nakAfter(0)) // closing: not handed out
      return claims
    }
    for (const message of result.messages) {
      // The server's ack wait runs from when it handed the message out, not from when this pull began to wait.
      const claim = take(ctx, message, leaseMs, message.arrivedAt ?? pulledAt)
      if (claim) claims.push(claim)
    }
    if (claims.length > 0 || signal.aborted || state.closed || now() >= deadline) return claims
    if (result.crowded) {
      await sleep(Math.min(pause, deadline - now()), signal)
      pause = Math.min(pause * 2, 200)
    }
  }
}

/** Claims from every destination that has deliveries (the consumers' counts), polling them until the deadline. */
async function claimAny(ctx: ClaimContext, request: ClaimRequest): Promise<Claim[]> {
  const { max, deadline, signal } = request
  for (;;) {
    const claims: Claim[] = []
    for (const [destination] of await destinationBacklogs(ctx)) {
      if (claims.length >= max || signal.aborted) break
      claims.push(...(await claimFrom(ctx, destination, { ...request, max: max - claims.length, deadline: 0 })))
    }
    if (claims.length > 0 || signal.aborted || ctx.state.closed || ctx.now() >= deadline) return claims
    await ctx.nap(Math.min(POLL_MS, deadline - ctx.now()), signal)
  }
}

/** A pulled delivery: a claim when due; given back with the remaining delay when not. */
function take(ctx: ClaimContext, message: PulledMessage, leaseMs: number, pulledAt: number): Claim | undefined {
  const { nc, log } = ctx
  const record = decodeDelivery(message.data)
  if (!record) {
    log.error('unreadable delivery message in NATS; removed', {
      jetStream: ctx.names.jetStreams.deliveries,
      seq: message.streamSeq,
      subject: message.subject,
    })
    sendAck(nc, message.reply, ACK)
    return undefined
  }
  const early = record.nextAt - ctx.now()
  if (early > 0) {
    sendAck(nc, message.reply, nakAfter(early))
    return undefined
  }
  return ctx.leases.hold(message, record, leaseMs, pulledAt)
}

/** Resolves after `ms`, or as soon as a delivery is published (by any instance), or on `signal`. */
type Nap = (ms: number, signal: AbortSignal) => Promise<void>

/** Naps that share one core subscription to the delivery subjects, made at the first nap. */
export function deliveryNap(ctx: Pick<NatsContext, 'nc' | 'names'>): Nap {
  let wakeups: Set<() => void> | undefined
  return function nap(ms, signal) {
    if (!wakeups) {
      const set = (wakeups = new Set())
      ctx.nc.subscribe(`${ctx.names.prefix}.deliver.>`, {
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
}
