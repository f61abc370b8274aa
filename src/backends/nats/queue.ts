/**
 * The shared queue: NATS JetStream keeps the events, deliveries and dead letters, so any number of hookcast
 * instances take hooks and make deliveries from one backlog, and a dead instance's claims go to the others.
 *
 * Streams and subjects (names.ts): an event is stored once, in `<prefix>-events`, and each destination gets one
 * small delivery message in the work-queue stream `<prefix>-deliveries` on `<prefix>.deliver.<destination>.<eventSeq>`,
 * holding the delivery's state (attempts, since, nextAt) as JSON. Each destination has a durable pull consumer; its
 * ack wait is how long a silent instance's claim stays held (leases.ts keeps longer leases alive, and gives expired
 * ones back).
 *
 * This file connects, checks the server, and assembles the parts, each in its own file:
 * - put.ts: storing an event and its deliveries, deduplicated by the event's id;
 * - claims.ts: pulling due deliveries and holding them (not-yet-due ones go back with a delay);
 * - held-claims.ts: load, extend, ack, retry and dead of a held claim, and removing an event once it is done;
 * - dead-letters.ts: listing and replaying dead letters; stats.ts: the backlog as the server counts it;
 * - sweep.ts: event copies no delivery refers to any more.
 *
 * NATS unreachable: puts get QueueFullError (503) at once, or after `publishTimeoutMs` when the loss is not noticed
 * yet; the client reconnects by itself. Bodies larger than the server's `max_payload` are not split into the object
 * store: `openNatsQueue` fails at start when `maxBodyBytes` plus room for headers exceeds it, naming the settings to
 * change (nats-server's `max_payload`, at most 64 MB, or hookcast's `server.maxBodyBytes`). Thumbnails and JSON
 * hooks are far smaller than the server's default of 1 MB.
 * @module
 */
import type { NatsConnection } from '@nats-io/transport-node'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import type { Logger } from '../../log.ts'
import type { Queue } from '../../queue/types.ts'
import type { DedupWindow } from '../../queue/dedup.ts'
import { natsClaims } from './claims.ts'
import { connectNats, type NatsConnectOptions } from './connect.ts'
import type { NatsContext, QueueState } from './queue-context.ts'
import { listDeadLetters, replayDeadLetters } from './dead-letters.ts'
import { natsHeldClaims } from './held-claims.ts'
import { Leases } from './leases.ts'
import { natsNames, type NatsNames } from './queue-names.ts'
import { WORKING, confirmAck, nakAfter, sendAck } from './pull.ts'
import { natsPut } from './put.ts'
import { HEADER_ROOM_BYTES } from './messages.ts'
import { natsQueueStats } from './queue-stats.ts'
import { consumerCache, ensureJetStreams, jetStreamConfigs } from './jetstream-setup.ts'
import { orphanSweeper, orphanSweeps, type OrphanSweeps, type SweepResult } from './orphan-sweep.ts'
import { errorText } from '../../util/error-text.ts'

export interface NatsQueueOptions extends NatsConnectOptions {
  /** Names every stream (`<prefix>-events`, ...) and subject (`<prefix>.events.*`, ...). Default `hookcast`. */
  prefix?: string
  /** Copies of each stream in a cluster (1, or 3 for production). Default 1. */
  replicas?: number
  /** A put of an event id already put within this window is dropped (`{ duplicate: true }`); 0: no dedup. */
  dedupWindowMs: number
  /** Ids of completed puts kept across a restart of nats-server (see put.ts); JetStream's window alone otherwise. */
  completed?: DedupWindow
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
  /** How often this instance looks for events no delivery refers to (orphan-sweep.ts), ms; 0: never. Default 10 min. */
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
   * (orphan-sweep.ts). Runs by itself every `sweepEveryMs`, for copies older than the dedup window plus 10 minutes.
   */
  sweepOrphans(olderThanMs?: number): Promise<SweepResult>
}

/** Events read per sweep. */
const SWEEP_PAGE = 500

/** The options with their defaults, checked. */
interface QueueSettings {
  names: NatsNames
  replicas: number
  ackWaitMs: number
  requestTimeoutMs: number
  now: () => number
}

/** What `close` ends. */
interface OpenQueue {
  ctx: NatsContext
  state: QueueState
  closing: AbortController
  leases: Leases
  sweeps: OrphanSweeps
  /** Ends when the connection is closed. */
  watching: Promise<void>
}

export async function openNatsQueue(options: NatsQueueOptions): Promise<NatsQueue> {
  const settings = queueSettings(options)
  const ctx = await openContext(options, settings)
  const { nc, log } = ctx
  const state: QueueState = { up: true, closed: false }
  const closing = new AbortController()
  const watching = watchConnection(nc, state, log)
  const leases = claimLeases(ctx, settings.ackWaitMs)
  const sweeps = orphanSweeps(orphanSweeper(ctx, SWEEP_PAGE), {
    everyMs: options.sweepEveryMs ?? 10 * 60_000,
    olderThanMs: options.dedupWindowMs + 10 * 60_000,
    canRun: () => state.up && !state.closed,
    log,
  })
  return {
    sweepOrphans: sweeps.sweep,
    get maxPayload() {
      return nc.info?.max_payload ?? 0
    },
    connected: () => state.up && !state.closed,
    put: natsPut(ctx, state, {
      dedupWindowMs: options.dedupWindowMs,
      publishTimeoutMs: options.publishTimeoutMs ?? 2_000,
      ...(options.completed ? { completed: options.completed } : {}),
    }),
    claim: natsClaims(ctx, leases, state, closing.signal),
    ...natsHeldClaims(ctx, leases),
    async deadLetters(filter = {}) {
      return (await listDeadLetters(ctx, filter)).map((listed) => listed.letter)
    },
    replay: (filter = {}) => replayDeadLetters(ctx, filter),
    stats: () => natsQueueStats(ctx),
    close: () => closeQueue({ ctx, state, closing, leases, sweeps, watching }),
  }
}

function queueSettings(options: NatsQueueOptions): QueueSettings {
  const names = natsNames(options.prefix ?? 'hookcast')
  const replicas = options.replicas ?? 1
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5)
    throw new Error(`NATS replicas must be 1 to 5, not ${replicas}`)
  return {
    names,
    replicas,
    ackWaitMs: options.ackWaitMs ?? 30_000,
    requestTimeoutMs: options.requestTimeoutMs ?? 5_000,
    now: options.now ?? Date.now,
  }
}

/** Connects and prepares the server; the connection is closed again when the server will not do. */
async function openContext(options: NatsQueueOptions, settings: QueueSettings): Promise<NatsContext> {
  let nc: NatsConnection
  try {
    nc = await connectNats(options)
  } catch (error) {
    throw new Error(`cannot connect to NATS at ${options.servers.join(', ')}: ${errorText(error)}`, { cause: error })
  }
  try {
    return await prepareServer(nc, options, settings)
  } catch (error) {
    await nc.close().catch(() => {})
    throw error
  }
}

/** Follows the connection into `state.up`, logging its losses and returns; ends when the connection is closed. */
function watchConnection(nc: NatsConnection, state: QueueState, log: Logger): Promise<void> {
  return (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') {
        state.up = false
        log.warn('NATS connection lost; hooks get 503 until it is back', { server: status.server })
      } else if (status.type === 'reconnect') {
        state.up = true
        log.info('NATS connection back', { server: status.server })
      } else if (status.type === 'error' || status.type === 'ldm') {
        log.warn('NATS reports a problem', {
          status: status.type,
          ...('error' in status ? { error: errorText(status.error) } : {}),
        })
      }
    }
  })().catch(() => {})
}

/** The claims this instance holds: a lease that runs out is given back, a long one is kept alive on the server. */
function claimLeases({ nc, now, log }: NatsContext, ackWaitMs: number): Leases {
  return new Leases({
    ackWaitMs,
    now,
    release: (held) => {
      log.debug('a claim outlived its lease; given back', {
        id: held.record.eventId,
        destination: held.record.destination,
      })
      sendAck(nc, held.message.reply, nakAfter(0))
    },
    renew: (held) => confirmAck(nc, held.message.reply, WORKING, Math.max(500, ackWaitMs / 3)),
  })
}

async function closeQueue({ ctx, state, closing, leases, sweeps, watching }: OpenQueue): Promise<void> {
  if (state.closed) return
  state.closed = true
  closing.abort()
  await sweeps.stop()
  // Claims do not outlive the queue: given back now rather than when their ack wait runs out.
  await Promise.all(
    leases.takeAll().map((held) => confirmAck(ctx.nc, held.message.reply, nakAfter(0), 1_000).catch(() => {})),
  )
  await ctx.nc.close().catch(() => {})
  await watching
}

/**
 * Checks that the server takes hookcast's largest body and runs JetStream, and makes or updates the streams;
 * each refusal names the setting to change.
 */
async function prepareServer(
  nc: NatsConnection,
  options: NatsQueueOptions,
  settings: QueueSettings,
): Promise<NatsContext> {
  const { names, replicas, ackWaitMs, requestTimeoutMs } = settings
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
    throw new Error(
      `JetStream is not available on NATS (start nats-server with -js, or jetstream {} in its config): ${errorText(error)}`,
    )
  })
  await ensureJetStreams(
    jsm,
    jetStreamConfigs(names, {
      replicas,
      dedupWindowMs: options.dedupWindowMs,
      ackWaitMs,
      ...(options.maxBytes !== undefined ? { maxBytes: options.maxBytes } : {}),
    }),
  )
  const directGet = (await jsm.streams.info(names.jetStreams.events)).config.allow_direct === true
  return {
    nc,
    jsm,
    names,
    log: options.log,
    now: settings.now,
    requestTimeoutMs,
    directGet,
    js: jetstream(nc, { timeout: requestTimeoutMs }),
    consumers: consumerCache(jsm, names, ackWaitMs),
  }
}
