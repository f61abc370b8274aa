/**
 * The NATS queue's JetStream streams and consumers, created when missing and brought in line with the options when
 * they differ (duplicate window, size limit, replicas), so every instance started with one config agrees on them.
 * @module
 */
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/transport-node'
import type { NatsNames } from './queue-names.ts'

interface JetStreamOptions {
  replicas: number
  /** The events stream's duplicate window (a put with the same event id within it is dropped); 0: none. */
  dedupWindowMs: number
  /** The events stream holds at most this many bytes; a put beyond it is refused (503). */
  maxBytes?: number
  /** A delivery claimed by an instance that went silent goes to another one after this long. */
  ackWaitMs: number
}

/**
 * How long setting up at start (creating or updating a JetStream stream, a KV bucket) may take. Creating one writes to
 * disk and, with replicas, waits for a quorum: seconds on a busy server, where a request the gateway makes while it
 * runs fails after requestTimeoutMs (5 s) so a hook gets its 503 in time. A start is not waited on by anyone.
 */
export const SETUP_TIMEOUT_MS = 30_000

/**
 * Runs a setup step (idempotent) until the server answers, each try waiting longer than the one before: 30 s in all,
 * SETUP_TIMEOUT_MS, as a slow server needs. nats-server leaves a request that races a stream's creation unanswered
 * (nats-io/nats-server#6421): a loaded run's gateway, reading a bucket another instance had just made, waited the
 * whole 30 s for one answer and failed to start. With growing tries a lost request costs a second.
 */
export async function withGrowingTimeouts<T>(step: (timeoutMs: number) => Promise<T>): Promise<T> {
  for (const timeout of TRIES_MS.slice(0, -1)) {
    try {
      return await step(timeout)
    } catch (error) {
      if ((error as Error).name !== 'TimeoutError') throw error
    }
  }
  return step(TRIES_MS.at(-1)!)
}

/** The timeouts of withGrowingTimeouts' tries, ms. */
const TRIES_MS = [1_000, 2_000, 4_000, 8_000, 15_000]

/** A setup step given a JetStream manager with each try's timeout (see withGrowingTimeouts). */
export function withSetupManager<T>(nc: NatsConnection, step: (jsm: JetStreamManager) => Promise<T>): Promise<T> {
  return withGrowingTimeouts(async (timeout) => step(await jetstreamManager(nc, { timeout, checkAPI: false })))
}

/** Retries, replays and dead letters carry message ids of their own; JetStream's default window suits them. */
const DEFAULT_WINDOW_MS = 120_000
const ns = (ms: number) => Math.round(ms * 1e6)

export function jetStreamConfigs(names: NatsNames, options: JetStreamOptions): StreamConfig[] {
  const { prefix, jetStreams } = names
  const common = {
    storage: StorageType.File,
    num_replicas: options.replicas,
    max_msgs: -1,
    max_age: 0,
    max_msg_size: -1,
    allow_direct: false,
  }
  return [
    {
      ...common,
      name: jetStreams.events,
      subjects: [`${prefix}.events.*`],
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.New,
      max_bytes: options.maxBytes ?? -1,
      max_msgs_per_subject: -1,
      duplicate_window: ns(options.dedupWindowMs > 0 ? options.dedupWindowMs : DEFAULT_WINDOW_MS),
      // Bodies are read with Direct Get: the stored bytes as they are (the API's get wraps them in JSON, in base64).
      allow_direct: true,
    },
    {
      // Wider than the events' window: a put repeated within that window finds its deliveries' ids still known.
      ...common,
      name: jetStreams.deliveries,
      subjects: [`${prefix}.deliver.*.*`],
      retention: RetentionPolicy.Workqueue,
      discard: DiscardPolicy.Old,
      max_bytes: -1,
      max_msgs_per_subject: -1,
      duplicate_window: ns(Math.max(options.dedupWindowMs, DEFAULT_WINDOW_MS)),
    },
    {
      // One dead letter per delivery: a later one (after a replay) replaces it.
      ...common,
      name: jetStreams.dead,
      subjects: [`${prefix}.dead.*.*`],
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      max_bytes: -1,
      max_msgs_per_subject: 1,
      duplicate_window: ns(DEFAULT_WINDOW_MS),
    },
    {
      // Parts of bodies larger than one message (chunks.ts), one subject per body; removed with what names them.
      ...common,
      name: jetStreams.chunks,
      subjects: [`${prefix}.chunks.*`],
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      max_bytes: -1,
      max_msgs_per_subject: -1,
      duplicate_window: ns(DEFAULT_WINDOW_MS),
      allow_direct: true,
    },
  ] as StreamConfig[]
}

export async function ensureJetStreams(jsm: JetStreamManager, configs: StreamConfig[]): Promise<void> {
  for (const config of configs) {
    const existing = await jsm.streams.info(config.name).catch((error: unknown) => {
      if (isNotFound(error)) return undefined
      throw error
    })
    if (!existing) {
      await jsm.streams.add(config).catch(async (error: unknown) => {
        // Another instance created it meanwhile (with other settings, or we would have been answered OK).
        if (!(error instanceof JetStreamApiError)) throw error
        await jsm.streams.update(config.name, updatable(config))
      })
      continue
    }
    const want = updatable(config)
    const has = existing.config as unknown as Record<string, unknown>
    if (Object.entries(want).some(([key, value]) => JSON.stringify(has[key]) !== JSON.stringify(value))) {
      await jsm.streams.update(config.name, want)
    }
  }
}

function updatable(config: StreamConfig): Partial<StreamConfig> {
  const { duplicate_window, max_bytes, num_replicas, discard, max_msgs_per_subject, allow_direct } = config
  return { duplicate_window, max_bytes, num_replicas, discard, max_msgs_per_subject, allow_direct }
}

function deliveryConsumer(names: NatsNames, destination: string, ackWaitMs: number): ConsumerConfig {
  return {
    durable_name: names.consumer(destination),
    filter_subject: names.deliveries(destination),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: ns(ackWaitMs),
    // Every naked not-yet-due delivery counts as a delivery and stays ack-pending until due: neither may cap it.
    max_deliver: -1,
    max_ack_pending: -1,
  } as ConsumerConfig
}

/**
 * Creates (or updates to these settings) the consumer of each destination once per process; concurrent callers
 * share the request. A failed one is asked again next time.
 */
export function consumerCache(jsm: JetStreamManager, names: NatsNames, ackWaitMs: number) {
  const made = new Map<string, Promise<void>>()
  return {
    ensure(destination: string): Promise<void> {
      let pending = made.get(destination)
      if (!pending) {
        // Adding a durable that exists with other updatable settings updates it (nats-server 2.9 and later).
        pending = jsm.consumers
          .add(names.jetStreams.deliveries, deliveryConsumer(names, destination, ackWaitMs))
          .then(() => {})
        pending.catch(() => made.delete(destination))
        made.set(destination, pending)
      }
      return pending
    },
    /** Forgets one (it was not found where it should be): the next claim creates it again. */
    forget(destination: string): void {
      made.delete(destination)
    },
  }
}

export function isNotFound(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.status === 404 ||
      error.code === JetStreamApiCodes.NoMessageFound ||
      /not found|no message found/i.test(error.message))
  )
}
