/**
 * The page's recent events for several instances: each instance appends its activity records (an event accepted, a
 * delivery's outcome, a replay) to one JetStream stream, `<prefix>-activity`, kept short (the newest records, for an
 * hour); any instance lists by folding the newest records of all of them. Appending never delays a hook: it is
 * a plain publish, fire and forget, and a record lost while NATS is away only leaves the page less complete.
 * @module
 */
import type { NatsConnection } from '@nats-io/transport-node'
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  jetstreamManager,
  StorageType,
  type ConsumerConfig,
} from '@nats-io/jetstream'
import type { Logger } from '../../log.ts'
import { acceptedActivity, activityFold, type Activity, type RecentEvents } from '../../activity/recent-events.ts'
import { pull } from './pull.ts'
import { withSetupManager } from './jetstream-setup.ts'

interface NatsActivityOptions {
  nc: NatsConnection
  /** The JetStream stream is `<prefix>-activity`, its subject `<prefix>.activity`. */
  prefix: string
  replicas: number
  /** Events the page shows at most. */
  capacity?: number
  log: Logger
  now?: () => number
}

/** Records kept (the newest) and read back per listing: enough for a few hundred events with their outcomes. */
const KEEP = 20_000
const READ = 4_000
const HOUR_NS = 3_600_000 * 1_000_000
const encoder = new TextEncoder()
const decoder = new TextDecoder()

export async function natsRecentEvents(options: NatsActivityOptions): Promise<RecentEvents> {
  const now = options.now ?? Date.now
  const jetStream = `${options.prefix}-activity`
  const subject = `${options.prefix}.activity`
  // Listed with the usual request timeout; made below with the setup's patience.
  const jsm = await jetstreamManager(options.nc, { checkAPI: false })
  const config = {
    name: jetStream,
    subjects: [subject],
    storage: StorageType.File,
    num_replicas: options.replicas,
    max_msgs: KEEP,
    max_age: HOUR_NS,
    discard: DiscardPolicy.Old,
  }
  await withSetupManager(options.nc, (setup) =>
    setup.streams.add(config).catch(() => setup.streams.update(jetStream, config)),
  )
  let warned = 0

  // A plain NATS publish, which the stream takes in: no acknowledgement to wait for (a JetStream publish is a
  // request, with its reply subscription and timer, three per event for records nobody waits on).
  const append = (record: Activity) => {
    try {
      options.nc.publish(subject, encoder.encode(JSON.stringify(record)))
    } catch (error) {
      // Once a minute at most: NATS being away is already on /readyz and in the queue's own logs.
      if (now() - warned < 60_000) return
      warned = now()
      options.log.warn('cannot record activity for the page in NATS', { error: String(error) })
    }
  }

  return {
    accepted: (event, destinations) => append(acceptedActivity(event, destinations, now())),
    outcome: (report) => append({ kind: 'outcome', at: now(), report }),
    replayed: (eventId, destination) => append({ kind: 'replayed', at: now(), eventId, destination }),
    async list(limit) {
      const fold = activityFold(options.capacity ?? 500)
      const { state } = await jsm.streams.info(jetStream)
      if (state.messages === 0) return []
      const consumer = await jsm.consumers.add(jetStream, {
        ack_policy: AckPolicy.None,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: Math.max(state.first_seq, state.last_seq - READ + 1),
        mem_storage: true,
        num_replicas: 1,
        inactive_threshold: 60_000 * 1e6,
      } as ConsumerConfig)
      try {
        for (;;) {
          const { messages } = await pull(options.nc, jetStream, consumer.name, {
            batch: 1_000,
            waitMs: 0,
            onLate() {},
          })
          for (const message of messages) {
            try {
              fold.apply(JSON.parse(decoder.decode(message.data)) as Activity)
            } catch {
              // a record this version cannot read: skipped
            }
          }
          if (messages.length === 0 || messages.at(-1)!.pending === 0 || messages.at(-1)!.streamSeq >= state.last_seq)
            break
        }
      } finally {
        await jsm.consumers.delete(jetStream, consumer.name).catch(() => {})
      }
      return fold.list(limit)
    },
  }
}
