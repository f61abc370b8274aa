/**
 * The shared queue: NATS JetStream keeps the events, deliveries and dead letters, so any number of hookcast
 * instances take hooks and make deliveries from one backlog, and a dead instance's claims go to the others.
 *
 * Streams and subjects (names.ts): an event is stored once, in `<prefix>-events` (its metadata in the
 * `Hookcast-Event` header, its exact bytes as payload), and each destination gets one small delivery message in the
 * work-queue stream `<prefix>-deliveries` on `<prefix>.deliver.<destination>.<eventSeq>`, holding the delivery's
 * state (attempts, since, nextAt) as JSON. Each destination has a durable pull consumer; its ack wait is how long a
 * silent instance's claim stays held (leases.ts keeps longer leases alive, and gives expired ones back).
 *
 * - `put` resolves once JetStream acknowledged the event and every delivery. `Nats-Msg-Id` is the event's id, so
 *   the events stream's duplicate window drops a repeated hook whichever instance it reached; a repeat still
 *   publishes its deliveries, under ids of their own that the deliveries stream drops when they exist, so a put
 *   that died between the two is completed by the repeat. NATS unreachable: QueueFullError (503) at once, or after
 *   `publishTimeoutMs` when the loss is not noticed yet; the client reconnects by itself.
 * - JetStream 2.9 has no scheduled messages: a delivery that is not due yet (`nextAt`, from `notBefore` or a retry)
 *   is handed to a claimer like any other, which gives it back with `-NAK` and the remaining delay, without handing
 *   it out; naks are not attempts (attempts live in the message). Such deliveries wait as ack-pending on the server.
 * - `retry` with an attempt or a later time publishes the delivery again with its new state, then acks the old
 *   message; a plain release (no attempt, due now) naks it where it is.
 * - An event copy is removed when its last delivery ends (acked or dead): the one ending it looks whether the
 *   other destinations of that copy still have a delivery message. A dead letter keeps a copy of the body; a
 *   replay puts a fresh copy back (dead-letters.ts).
 * - Claims with a destination wait on the server (a pull with `expires`); claims without one go through the
 *   destinations that have deliveries (the consumers' counts) and wait by polling them, woken at once by any new
 *   delivery published (a core subscription to the delivery subjects). The worker always names its destination.
 *
 * Bodies larger than the server's `max_payload` are not split into the object store: `openNatsQueue` fails at
 * start when `maxBodyBytes` plus room for headers exceeds it, naming the settings to change (nats-server's
 * `max_payload`, at most 64 MB, or hookcast's `server.maxBodyBytes`). Thumbnails and JSON hooks are far smaller than
 * the server's default of 1 MB.
 * @module
 */
import type { NatsConnection } from '@nats-io/transport-node'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import type { Logger } from '../../log.ts'
import { LeaseLostError, QueueFullError, type Claim, type Queue } from '../types.ts'
import { connectNats, type NatsConnectOptions } from './connect.ts'
import type { NatsContext } from './context.ts'
import { listDeadLetters, replayDeadLetters } from './dead-letters.ts'
import { Leases, type Held } from './leases.ts'
import { natsNames } from './names.ts'
import { ACK, WORKING, confirmAck, nakAfter, pull, sendAck, type PulledMessage } from './pull.ts'
import { HEADER_ROOM_BYTES, decodeDelivery, encodeDelivery, eventFrom, eventHeaders, eventMetaOf, readEventMeta } from './records.ts'
import { consumerCache, ensureStreams, isNotFound, streamConfigs } from './streams.ts'
import { orphanSweeper, type SweepResult } from './sweep.ts'

export interface NatsQueueOptions extends NatsConnectOptions {
  /** Names every stream (`<prefix>-events`, ...) and subject (`<prefix>.events.*`, ...). Default `hookcast`. */
  prefix?: string
  /** Copies of each stream in a cluster (1, or 3 for production). Default 1. */
  replicas?: number
  /** A put of an event id already put within this window is dropped (`{ duplicate: true }`); 0: no dedup. */
  dedupWindowMs: number
  /** How long a claim of an instance that went silent stays held before another instance gets it. Default 30 s. */
  ackWaitMs?: number
  /** The events stream holds at most this many bytes; puts beyond it get QueueFullError. Default: no limit. */
  maxBytes?: number
  /** The largest body hookcast accepts (`server.maxBodyBytes`): checked against the server's max_payload. */
  maxBodyBytes?: number
  /** A put not acknowledged within this long rejects with QueueFullError, ms. Default 2 s. */
  publishTimeoutMs?: number
  /** Any other request to the server, ms. Default 5 s. */
  requestTimeoutMs?: number
  /** How often this instance looks for events no delivery refers to (sweep.ts), ms; 0: never. Default 10 min. */
  sweepEveryMs?: number
  log: Logger
  now?: () => number
}

export interface NatsQueue extends Queue {
  /** The connected server's `max_payload`, bytes. */
  readonly maxPayload: number
  /** Whether the connection to NATS is up right now (readiness). */
  connected(): boolean
  /**
   * Removes events older than `olderThanMs` that no delivery refers to, a page of the events stream per call
   * (sweep.ts). Runs by itself every `sweepEveryMs`, for copies older than the dedup window plus 10 minutes.
   */
  sweepOrphans(olderThanMs?: number): Promise<SweepResult>
}

/** How often a claim without a destination looks again while it waits (deliveries due after a delay, lost leases). */
const POLL_MS = 200
/** Events read per sweep. */
const SWEEP_PAGE = 500

export async function openNatsQueue(options: NatsQueueOptions): Promise<NatsQueue> {
  const now = options.now ?? Date.now
  const { log } = options
  const names = natsNames(options.prefix ?? 'hookcast')
  const replicas = options.replicas ?? 1
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) throw new Error(`NATS replicas must be 1 to 5, not ${replicas}`)
  const ackWaitMs = options.ackWaitMs ?? 30_000
  const publishTimeoutMs = options.publishTimeoutMs ?? 2_000
  const requestTimeoutMs = options.requestTimeoutMs ?? 5_000

  let nc: NatsConnection
  try {
    nc = await connectNats(options)
  } catch (error) {
    throw new Error(`cannot connect to NATS at ${options.servers.join(', ')}: ${errorText(error)}`, { cause: error })
  }
  let ctx: NatsContext
  try {
    const maxPayload = nc.info!.max_payload
    if (options.maxBodyBytes !== undefined && options.maxBodyBytes + HEADER_ROOM_BYTES > maxPayload) {
      throw new Error(
        `nats-server's max_payload is ${maxPayload} bytes, too small for server.maxBodyBytes (${options.maxBodyBytes}) ` +
        `plus ${HEADER_ROOM_BYTES} bytes of headers: raise max_payload in nats-server's config (at most 64MB; e.g. ` +
        `max_payload: ${Math.ceil((options.maxBodyBytes + HEADER_ROOM_BYTES) / 1024 / 1024)}MB), or lower server.maxBodyBytes to at most ` +
        `${Math.max(0, maxPayload - HEADER_ROOM_BYTES)}`,
      )
    }
    const jsm = await jetstreamManager(nc, { timeout: requestTimeoutMs }).catch((error: unknown) => {
      throw new Error(`JetStream is not available on NATS (start nats-server with -js, or jetstream {} in its config): ${errorText(error)}`)
    })
    await ensureStreams(jsm, streamConfigs(names, { replicas, dedupWindowMs: options.dedupWindowMs, ackWaitMs, ...(options.maxBytes !== undefined ? { maxBytes: options.maxBytes } : {}) }))
    ctx = {
      nc, jsm, names, log, now, requestTimeoutMs,
      js: jetstream(nc, { timeout: requestTimeoutMs }),
      consumers: consumerCache(jsm, names, ackWaitMs),
    }
  } catch (error) {
    await nc.close().catch(() => {})
    throw error
  }
  const { js, jsm, consumers } = ctx
  const streams = names.streams

  let up = true
  let closed = false
  const closing = new AbortController()
  const statusLoop = (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') {
        up = false
        log.warn('NATS connection lost; hooks get 503 until it is back', { server: status.server })
      } else if (status.type === 'reconnect') {
        up = true
        log.info('NATS connection back', { server: status.server })
      } else if (status.type === 'error' || status.type === 'ldm') {
        log.warn('NATS reports a problem', { status: status.type, ...('error' in status ? { error: errorText(status.error) } : {}) })
      }
    }
  })().catch(() => {})

  const leases = new Leases({
    ackWaitMs, now,
    release: (held) => {
      log.debug('a claim outlived its lease; given back', { id: held.record.eventId, destination: held.record.destination })
      sendAck(nc, held.message.reply, nakAfter(0))
    },
    renew: (held) => confirmAck(nc, held.message.reply, WORKING, Math.max(500, ackWaitMs / 3)),
  })

  /** A pulled delivery: a claim when due; given back with the remaining delay when not. */
  function take(message: PulledMessage, leaseMs: number, pulledAt: number): Claim | undefined {
    const record = decodeDelivery(message.data)
    if (!record) {
      log.error('unreadable delivery message in NATS; removed', { stream: streams.deliveries, seq: message.streamSeq, subject: message.subject })
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

  async function claimFrom(destination: string, max: number, leaseMs: number, deadline: number, signal: AbortSignal): Promise<Claim[]> {
    const claims: Claim[] = []
    for (let pause = 10; ;) {
      const waitMs = Math.max(0, deadline - now())
      const pulledAt = now()
      const result = await pull(nc, streams.deliveries, names.consumer(destination), {
        batch: max - claims.length, waitMs, signal, now, onLate: (late) => sendAck(nc, late.reply, nakAfter(0)),
      })
      if (result.unanswered) consumers.forget(destination) // deleted behind our back? made again next time
      if (closed) {
        for (const message of result.messages) sendAck(nc, message.reply, nakAfter(0)) // closing: not handed out
        return claims
      }
      for (const message of result.messages) {
        // The server's ack wait runs from when it handed the message out, not from when this pull began to wait.
        const claim = take(message, leaseMs, message.arrivedAt ?? pulledAt)
        if (claim) claims.push(claim)
      }
      if (claims.length > 0 || signal.aborted || closed || now() >= deadline) return claims
      if (result.crowded) {
        await sleep(Math.min(pause, deadline - now()), signal)
        pause = Math.min(pause * 2, 200)
      }
    }
  }

  /** Destinations with deliveries on the server (pending, or handed out and not acked yet). */
  async function activeDestinations(): Promise<string[]> {
    const active: string[] = []
    for await (const info of jsm.consumers.list(streams.deliveries)) {
      const destination = names.destinationOf(info.name)
      if (destination !== undefined && info.num_pending + info.num_ack_pending > 0) active.push(destination)
    }
    return active
  }

  let wakeups: Set<() => void> | undefined
  /** Resolves after `ms`, or as soon as a delivery is published (by any instance), or on `signal`. */
  function nap(ms: number, signal: AbortSignal): Promise<void> {
    if (!wakeups) {
      const set = wakeups = new Set()
      nc.subscribe(`${names.prefix}.deliver.>`, { callback: () => { for (const wake of [...set]) wake() } })
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
      for (const destination of await activeDestinations()) {
        if (claims.length >= max || signal.aborted) break
        claims.push(...await claimFrom(destination, max - claims.length, leaseMs, 0, signal))
      }
      if (claims.length > 0 || signal.aborted || closed || now() >= deadline) return claims
      await nap(Math.min(POLL_MS, deadline - now()), signal)
    }
  }

  /**
   * After a delivery ended: removes its event's copy when no other destination of that copy has a delivery left.
   * Of two deliveries ending at once, the later to look sees both gone (each looks only once its own is gone).
   */
  async function dropEventIfDone(held: Held): Promise<void> {
    const { record } = held
    try {
      const others = record.group.filter((destination) => destination !== record.destination)
      if (others.length > 0) {
        // In a cluster the stream drops an acked message a moment after the ack is confirmed.
        for (let i = 1; i <= 10 && await jsm.streams.getMessage(streams.deliveries, { seq: held.message.streamSeq }); i++) await sleep(5 * i)
        const left = await Promise.all(others.map((destination) =>
          jsm.streams.getMessage(streams.deliveries, { last_by_subj: names.delivery(destination, record.eventSeq) })))
        if (left.some((message) => message !== null)) return
      }
      await jsm.streams.deleteMessage(streams.events, record.eventSeq, false).catch((error: unknown) => {
        if (!isNotFound(error)) throw error
      })
    } catch (error) {
      log.warn('cannot remove a finished event from NATS; it stays in the events stream', { id: record.eventId, seq: record.eventSeq, error: errorText(error) })
    }
  }

  async function eventOf(held: Held) {
    const stored = await jsm.streams.getMessage(streams.events, { seq: held.record.eventSeq })
    const meta = stored ? readEventMeta(stored.header) : undefined
    return stored && meta ? { meta, body: stored.data } : undefined
  }

  const sweep = orphanSweeper(ctx, SWEEP_PAGE)
  const orphanAgeMs = options.dedupWindowMs + 10 * 60_000
  let sweeping: Promise<SweepResult> | undefined
  const sweepOrphans = (olderThanMs = orphanAgeMs) =>
    sweeping ??= sweep(olderThanMs).finally(() => { sweeping = undefined })
  const sweepEveryMs = options.sweepEveryMs ?? 10 * 60_000
  const sweepTimer = sweepEveryMs > 0
    ? setInterval(() => {
      if (up && !closed && !sweeping) sweepOrphans().catch((error) => log.warn('cannot sweep NATS events', { error: errorText(error) }))
    }, sweepEveryMs)
    : undefined
  ;(sweepTimer as { unref?: () => void } | undefined)?.unref?.()

  return {
    sweepOrphans,
    get maxPayload() {
      return nc.info?.max_payload ?? 0
    },
    connected: () => up && !closed,

    async put(event, destinations, putOptions = {}) {
      if (closed) throw new QueueFullError('queue is closed')
      if (!up) throw new QueueFullError('NATS is unreachable')
      if (destinations.length === 0) return { duplicate: false }
      try {
        const stored = await js.publish(names.event(event.id), event.body, {
          headers: eventHeaders(eventMetaOf(event), { group: destinations }), timeout: publishTimeoutMs,
          ...(options.dedupWindowMs > 0 ? { msgID: event.id } : {}),
        })
        const group = [...destinations]
        await Promise.all(group.map(async (destination) => {
          await consumers.ensure(destination)
          await js.publish(names.delivery(destination, stored.seq), encodeDelivery({
            eventId: event.id, destination, eventSeq: stored.seq, group, receivedAt: event.receivedAt,
            since: event.receivedAt, attempts: [], nextAt: putOptions.notBefore ?? 0,
          }), { msgID: `put:${stored.seq}:${destination}`, timeout: publishTimeoutMs })
        }))
        return { duplicate: stored.duplicate }
      } catch (error) {
        throw new QueueFullError(`NATS did not take the event: ${errorText(error)}`, { cause: error })
      }
    },

    async claim({ destination, max, leaseMs, waitMs = 0, signal }) {
      if (closed || max <= 0) return []
      const stop = signal ? AbortSignal.any([signal, closing.signal]) : closing.signal
      const deadline = now() + waitMs
      if (!up) {
        // Nothing to ask while NATS is away: wait as a claim with nothing due would.
        await sleep(waitMs, stop)
        return []
      }
      if (destination === undefined) return claimAny(max, leaseMs, deadline, stop)
      await consumers.ensure(destination)
      return claimFrom(destination, max, leaseMs, deadline, stop)
    },

    async load(claim) {
      const held = leases.get(claim)
      const found = await eventOf(held)
      if (!found) {
        // Only after a put that died half-way and whose repeat came after the copy's other deliveries ended.
        log.error('a delivery whose event is gone from NATS; dropped', { id: claim.eventId, destination: claim.destination, seq: held.record.eventSeq })
        await confirmAck(nc, held.message.reply, ACK, requestTimeoutMs)
        leases.end(held)
        throw new Error(`event ${claim.eventId} is not in ${streams.events} any more; its delivery to ${claim.destination} was dropped`)
      }
      return eventFrom(found.meta, found.body)
    },

    async extend(claim, leaseMs) {
      const held = leases.get(claim)
      const sentAt = now()
      await confirmAck(nc, held.message.reply, WORKING, requestTimeoutMs)
      if (!leases.holds(held)) throw new LeaseLostError(`claim of ${claim.eventId} for ${claim.destination} is not held any more`)
      claim.leaseUntil = leases.extend(held, leaseMs, sentAt)
    },

    async ack(claim) {
      const held = leases.get(claim)
      await confirmAck(nc, held.message.reply, ACK, requestTimeoutMs)
      leases.end(held)
      await dropEventIfDone(held)
    },

    async retry(claim, at, attempt) {
      const held = leases.get(claim)
      if (!attempt && at <= now()) {
        await confirmAck(nc, held.message.reply, nakAfter(0), requestTimeoutMs)
        leases.end(held)
        return
      }
      const record = { ...held.record, attempts: attempt ? [...held.record.attempts, attempt] : held.record.attempts, nextAt: at }
      // The same id if this retry is recorded again (its ack failed): the second copy is dropped.
      await js.publish(names.delivery(record.destination, record.eventSeq), encodeDelivery(record), {
        msgID: `retry:${held.message.streamSeq}`, timeout: requestTimeoutMs,
      })
      await confirmAck(nc, held.message.reply, ACK, requestTimeoutMs)
      leases.end(held)
    },

    async dead(claim, attempts) {
      const held = leases.get(claim)
      const found = await eventOf(held)
      if (found) {
        await js.publish(names.dead(claim.destination, claim.eventId), found.body, {
          headers: eventHeaders(found.meta, { dead: { destination: claim.destination, deadAt: now(), attempts } }),
          msgID: `dead:${held.message.streamSeq}`, timeout: requestTimeoutMs,
        })
      } else {
        log.error('a dead delivery whose event is gone from NATS; no dead letter kept', { id: claim.eventId, destination: claim.destination })
      }
      await confirmAck(nc, held.message.reply, ACK, requestTimeoutMs)
      leases.end(held)
      await dropEventIfDone(held)
    },

    async deadLetters(filter = {}) {
      return (await listDeadLetters(ctx, filter)).map((listed) => listed.letter)
    },

    replay: (filter = {}) => replayDeadLetters(ctx, filter),

    async stats() {
      const [events, deliveries, dead] = await Promise.all([streams.events, streams.deliveries, streams.dead].map((name) => jsm.streams.info(name)))
      const destinations: Record<string, number> = Object.create(null)
      for await (const info of jsm.consumers.list(streams.deliveries)) {
        const destination = names.destinationOf(info.name)
        const count = info.num_pending + info.num_ack_pending
        if (destination !== undefined && count > 0) destinations[destination] = count
      }
      // Approximate: the age of the first delivery message stored, which is the oldest event's unless an older
      // one's delivery was stored again since (a retry).
      let oldestPendingAgeMs = 0
      if (deliveries!.state.messages > 0) {
        const first = await jsm.streams.getMessage(streams.deliveries, { seq: deliveries!.state.first_seq }).catch(() => null)
        const record = first ? decodeDelivery(first.data) : undefined
        const since = record?.receivedAt ?? Date.parse(deliveries!.state.first_ts)
        oldestPendingAgeMs = Number.isFinite(since) ? Math.max(0, now() - since) : 0
      }
      return {
        pendingEvents: events!.state.messages,
        pendingDeliveries: deliveries!.state.messages,
        deadLetters: dead!.state.messages,
        bytes: events!.state.bytes + deliveries!.state.bytes + dead!.state.bytes,
        oldestPendingAgeMs,
        destinations,
      }
    },

    async close() {
      if (closed) return
      closed = true
      closing.abort()
      clearInterval(sweepTimer)
      await sweeping?.catch(() => {})
      // Claims do not outlive the queue: given back now rather than when their ack wait runs out.
      await Promise.all(leases.takeAll().map((held) => confirmAck(nc, held.message.reply, nakAfter(0), 1_000).catch(() => {})))
      await nc.close().catch(() => {})
      await statusLoop
    },
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) return resolve()
    const done = () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

