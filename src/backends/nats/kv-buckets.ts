/**
 * The NATS KV buckets of the shared state, opened (made when missing) with the limits hookcast relies on and brought
 * in line with the config at each start. Every bucket keeps one value per key and discards new writes when full, so
 * a limit refuses a new key and never drops an old one; `maxValues` is the JetStream stream's `max_msgs`, past which
 * the server refuses a new key while a known key still changes (nats-server 2.9 and later).
 * @module
 */
import type { NatsConnection } from '@nats-io/transport-node'
import {
  jetstream,
  jetstreamManager,
  JetStreamApiError,
  type JetStreamManager,
  type StreamUpdateConfig,
} from '@nats-io/jetstream'
import { Kvm, type KV } from '@nats-io/kv'
import { SETUP_TIMEOUT_MS, withGrowingTimeouts, withSetupManager } from './jetstream-setup.ts'

interface BucketLimits {
  /** Copies of the bucket in a JetStream cluster (1, 3 or 5). */
  replicas: number
  /** Largest value, bytes (-1: the server's max_payload). */
  maxValueSize: number
  /** Keys at most (-1: no limit). */
  maxValues?: number
  /** Bytes at most (-1: no limit). */
  maxBytes?: number
  /** A key not written for this long goes (0: never). */
  ttlMs?: number
  description: string
}

export interface Bucket {
  kv: KV
  /**
   * The same bucket, its requests waiting as long as the setup's: for reads of the whole bucket, and for what a start
   * waits on (a server with a busy disk may take seconds, and an instance must not fail to start for it).
   */
  patient: KV
  jsm: JetStreamManager
  /** The JetStream stream under the bucket (`KV_<name>`). */
  jetStream: string
  /** The subject a key is stored under, to purge the JetStream stream by key prefix (`<prefix>.>`). */
  subject(key: string): string
}

const NANOS_PER_MS = 1_000_000

export async function openBucket(nc: NatsConnection, name: string, limits: BucketLimits): Promise<Bucket> {
  const jetStream = `KV_${name}`
  // Each step made with the setup's patience: a server whose disk is busy may take seconds to answer JetStream's
  // API, and an instance must not fail to start for it.
  await withGrowingTimeouts((timeout) => createOrOpen(new Kvm(jetstream(nc, { timeout })), name, kvOptions(limits)))
  const { config } = await withSetupManager(nc, (setup) => setup.streams.info(jetStream))
  const wanted = wantedLimits(limits)
  const differs = (Object.keys(wanted) as Array<keyof typeof wanted>).some(
    (key) => (config as Partial<StreamUpdateConfig>)[key] !== wanted[key],
  )
  // A bucket made by an older config, or by hand: the server is told the limits this config sets.
  if (differs) await withSetupManager(nc, (setup) => setup.streams.update(jetStream, { ...config, ...wanted }))
  // Then opened for use without asking the server again (it just said what the bucket is): its reads and writes
  // keep the usual request timeout, since a hook's dedup read must fail fast.
  const open = (timeout?: number) =>
    new Kvm(jetstream(nc, { checkAPI: false, ...(timeout ? { timeout } : {}) })).open(name, {
      allow_direct: config.allow_direct === true,
    })
  const [kv, patient] = await Promise.all([open(), open(SETUP_TIMEOUT_MS)])
  // A bucket another instance has just made may leave its first read unanswered (withGrowingTimeouts says why).
  await withGrowingTimeouts(async (timeout) => (await open(timeout)).get('hookcast-probe'))
  const jsm = await jetstreamManager(nc, { checkAPI: false })
  return { kv, patient, jsm, jetStream, subject: (key) => `$KV.${name}.${key}` }
}

/** The KV library's options for making the bucket. */
function kvOptions(limits: BucketLimits) {
  return {
    history: 1,
    replicas: limits.replicas,
    maxValueSize: limits.maxValueSize,
    description: limits.description,
    ...(limits.maxBytes !== undefined && limits.maxBytes > 0 ? { max_bytes: limits.maxBytes } : {}),
    ...(limits.ttlMs ? { ttl: limits.ttlMs } : {}),
  }
}

/** The JetStream stream's limits hookcast relies on (the KV library sets only some of them). */
function wantedLimits(limits: BucketLimits): Partial<StreamUpdateConfig> {
  return {
    max_msgs_per_subject: 1,
    max_msgs: limits.maxValues ?? -1,
    max_bytes: limits.maxBytes ?? -1,
    max_msg_size: limits.maxValueSize,
    max_age: (limits.ttlMs ?? 0) * NANOS_PER_MS,
    num_replicas: limits.replicas,
  }
}

/**
 * Kvm.create looks for the bucket, and makes it when there is none. Another instance starting at the same time may
 * make it in between and set the limits below: then making it with the library's defaults is refused, and looking
 * again opens the one the other made.
 */
async function createOrOpen(kvm: Kvm, name: string, options: Parameters<Kvm['create']>[1]): Promise<void> {
  try {
    await kvm.create(name, options)
  } catch (error) {
    if (!MADE_MEANWHILE.has(code(error) ?? 0)) throw error
    await kvm.create(name, options)
  }
}

/**
 * How nats-server refuses to make a stream that another client has just made with another configuration: "stream
 * name already in use with a different configuration" (10058), or, seen in a loaded run, "subjects overlap with an
 * existing stream" (10065).
 */
const MADE_MEANWHILE = new Set([10058, 10065])

/** A bucket's KV (or its patient one), opened once on first use; a failed open is tried again at the next call. */
export function lazyBucket(
  nc: NatsConnection,
  name: string,
  limits: BucketLimits,
  use: 'kv' | 'patient' = 'kv',
): () => Promise<KV> {
  let opening: Promise<KV> | undefined
  return () =>
    (opening ??= openBucket(nc, name, limits).then(
      (opened) => opened[use],
      (error) => {
        opening = undefined
        throw error
      },
    ))
}

const code = (error: unknown) => (error instanceof JetStreamApiError ? error.code : undefined)

/** A write with an expected revision that was not the key's last: another writer came first. */
export const isWrongRevision = (error: unknown) => code(error) === 10071 || code(error) === 10164

/** A write refused by the bucket's `max_msgs` or `max_bytes` (code 10077: "maximum messages/bytes exceeded"). */
export const isBucketFull = (error: unknown) => code(error) === 10077

/** Deleting a revision that is not stored (any more): a later write replaced it, or it was deleted. */
export const isNoMessage = (error: unknown) => code(error) === 10057 || code(error) === 10037

/** A stored revision as the store hands it out, or undefined for one this store never made. */
export function parseRevision(revision: string): number | undefined {
  return /^[1-9][0-9]{0,15}$/.test(revision) ? Number(revision) : undefined
}
