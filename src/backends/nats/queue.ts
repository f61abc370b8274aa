/**
 * The NATS queue: JetStream keeps the events, deliveries and dead letters, so any number of hookcast instances take
 * hooks and make deliveries from one backlog, and a dead instance's claims go to the others. An event is stored once;
 * each destination gets a small delivery message with its state, handed out by the destination's durable consumer.
 * While NATS is away puts get 503 and the client reconnects by itself. A body larger than the server's `max_payload`
 * (1 MB by default) is stored in chunks (chunks.ts), so a stock server takes hookcast's largest bodies.
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
import { natsQueueStats } from './queue-stats.ts'
import {
  consumerCache,
  ensureJetStreams,
  jetStreamConfigs,
  withGrowingTimeouts,
  withSetupManager,
} from './jetstream-setup.ts'
import { orphanSweeper, orphanSweeps, type OrphanSweeps, type SweepResult } from './orphan-sweep.ts'
import { removeLeftoverDeliveries } from './leftover-deliveries.ts'
import { errorText } from '../../util/error-text.ts'

export interface NatsQueueOptions extends NatsConnectOptions {
  /** Names every JetStream stream and subject (`<prefix>-events`, `<prefix>.events.*`, ...). Default `hookcast`. */
  prefix?: string
  /** Copies of each JetStream stream in a cluster (1, or 3 for production). Default 1. */
  replicas?: number
  /** A put of an event id already put within this window is dropped (`{ duplicate: true }`); 0: no dedup. */
  dedupWindowMs: number
  /** Ids of completed puts, kept across a restart of nats-server; JetStream's duplicate window alone otherwise. */
  completed?: DedupWindow
  /** How long a claim of an instance that went silent stays held before another instance gets it. Default 30 s. */
  ackWaitMs?: number
  /** The events stream holds at most this many bytes; puts beyond it get QueueFullError. Default: no limit. */
  maxBytes?: number
  /** A put not acknowledged within this long rejects with QueueFullError, ms. Default 2 s. */
  publishTimeoutMs?: number
  /** Any other request to the server, ms. Default 5 s. */
  requestTimeoutMs?: number
  /** How often this instance looks for events no delivery refers to, ms; 0: never. Default 10 min. */
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
   * Removes events older than `olderThanMs` that no delivery refers to, a page of the events stream per call. Runs
   * by itself every `sweepEveryMs`, for copies older than the dedup window plus 10 minutes.
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
  leftovers: LeftoverPasses
  /** Ends when the connection is closed. */
  watching: Promise<void>
}

export async function openNatsQueue(options: NatsQueueOptions): Promise<NatsQueue> {
  const settings = queueSettings(options)
  const ctx = await openContext(options, settings)
  const { nc, log } = ctx
  const state: QueueState = { up: true, closed: false }
  const closing = new AbortController()
  // A crash of nats-server can leave acknowledged deliveries behind: looked for at start and whenever it is back.
  const leftovers = leftoverPasses(ctx, state)
  void leftovers.run()
  const watching = watchConnection(nc, state, log, leftovers.run)
  const leases = claimLeases(ctx, settings.ackWaitMs)
  const sweepEvents = orphanSweeper(ctx, SWEEP_PAGE)
  const sweeps = orphanSweeps(
    async (olderThanMs) => {
      await leftovers.run() // first: the copies they held may go in this same sweep
      return sweepEvents(olderThanMs)
    },
    {
      everyMs: options.sweepEveryMs ?? 10 * 60_000,
      olderThanMs: options.dedupWindowMs + 10 * 60_000,
      canRun: () => state.up && !state.closed,
      log,
    },
  )
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
    ...natsHeldClaims(ctx, leases, options.dedupWindowMs > 0 ? options.completed : undefined),
    async deadLetters(filter = {}) {
      return (await listDeadLetters(ctx, filter)).map((listed) => listed.letter)
    },
    replay: (filter = {}) => replayDeadLetters(ctx, filter),
    stats: () => natsQueueStats(ctx),
    close: () => closeQueue({ ctx, state, closing, leases, sweeps, leftovers, watching }),
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

/** The passes over leftover deliveries (leftover-deliveries.ts), one at a time; a failed one is logged. */
interface LeftoverPasses {
  /** Starts a pass, or joins the one under way; never rejects. */
  run(): Promise<void>
}

function leftoverPasses(ctx: NatsContext, state: QueueState): LeftoverPasses {
  let running: Promise<void> | undefined
  const pass = () =>
    removeLeftoverDeliveries(ctx, () => state.up && !state.closed).then(
      () => {},
      (error: unknown) => ctx.log.warn('cannot look for leftover deliveries in NATS', { error: errorText(error) }),
    )
  return {
    run: () =>
      (running ??= pass().finally(() => {
        running = undefined
      })),
  }
}

/**
 * Follows the connection into `state.up`, logging its losses and returns, and calls `onBack` on each return; ends
 * when the connection is closed.
 */
function watchConnection(nc: NatsConnection, state: QueueState, log: Logger, onBack: () => void): Promise<void> {
  return (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') {
        state.up = false
        log.warn('NATS connection lost; hooks get 503 until it is back', { server: status.server })
      } else if (status.type === 'reconnect') {
        state.up = true
        log.info('NATS connection back', { server: status.server })
        onBack()
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

async function closeQueue({ ctx, state, closing, leases, sweeps, leftovers, watching }: OpenQueue): Promise<void> {
  if (state.closed) return
  state.closed = true
  closing.abort()
  await sweeps.stop()
  await leftovers.run() // the pass under way ends at its next step (closed); a new one does nothing
  // Claims do not outlive the queue: given back now rather than when their ack wait runs out.
  await Promise.all(
    leases.takeAll().map((held) => confirmAck(ctx.nc, held.message.reply, nakAfter(0), 1_000).catch(() => {})),
  )
  await ctx.nc.close().catch(() => {})
  await watching
}

/** Checks that the server runs JetStream, and makes or updates the JetStream streams. */
async function prepareServer(
  nc: NatsConnection,
  options: NatsQueueOptions,
  settings: QueueSettings,
): Promise<NatsContext> {
  const { names, replicas, ackWaitMs, requestTimeoutMs } = settings
  // Made with checkAPI: it asks the server whether this account has JetStream.
  await withGrowingTimeouts((timeout) => jetstreamManager(nc, { timeout })).catch((error: unknown) => {
    throw new Error(
      'JetStream is not available on NATS (start nats-server with -js, or jetstream {} in its config): ' +
        errorText(error),
    )
  })
  const configs = jetStreamConfigs(names, {
    replicas,
    dedupWindowMs: options.dedupWindowMs,
    ackWaitMs,
    ...(options.maxBytes !== undefined ? { maxBytes: options.maxBytes } : {}),
  })
  await withSetupManager(nc, (setup) => ensureJetStreams(setup, configs))
  const events = await withSetupManager(nc, (setup) => setup.streams.info(names.jetStreams.events))
  const directGet = events.config.allow_direct === true
  const jsm = await jetstreamManager(nc, { timeout: requestTimeoutMs, checkAPI: false })
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
