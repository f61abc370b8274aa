/**
 * The durable store behind the outbox. The local file spool implements it; a store shared by several instances
 * (Redis streams, NATS JetStream) can implement the same methods without the pipeline changing.
 * @module
 */
import type { HookEvent } from '../events/types.ts'

/** One failed attempt at a delivery. */
export interface Attempt {
  /** When it was made, epoch ms. */
  at: number
  error: string
}

/** A delivery of one event to one destination that has not succeeded yet. */
export interface PendingDelivery {
  eventId: string
  destination: string
  /** When the event was accepted, epoch ms. */
  receivedAt: number
  /** Start of this delivery's retry window (acceptance, or the replay), epoch ms: the max age counts from here. */
  since: number
  attempts: Attempt[]
  /** Do not try before this time, epoch ms. */
  nextAt: number
}

/** A delivery that will not be retried by itself: kept with its event until replayed. */
export interface DeadLetter {
  eventId: string
  destination: string
  type: string
  event: string
  streamId?: string
  receivedAt: number
  deadAt: number
  attempts: Attempt[]
}

export interface DeadLetterFilter {
  eventId?: string
  destination?: string
}

export interface SpoolStats {
  pendingEvents: number
  pendingDeliveries: number
  deadLetters: number
  /** Bytes the spool holds on disk (pending events and dead letters). */
  bytes: number
  /** Age of the oldest event with a pending delivery, ms; 0 when none. */
  oldestPendingAgeMs: number
}

export interface SpoolStore {
  /** Durably records `event` with one pending delivery per destination. Throws OutboxFullError when it cannot. */
  append(event: HookEvent, destinations: readonly string[]): Promise<PendingDelivery[]>
  /** The deliveries left pending by a previous run (call once, after opening). */
  recovered(): PendingDelivery[]
  /** The event of a pending delivery to `destination`, with its body; the delivery's outcome must follow. */
  load(eventId: string, destination: string): Promise<HookEvent>
  delivered(delivery: PendingDelivery): Promise<void>
  /**
   * Records that the delivery will be tried again at `delivery.nextAt`: after a failed attempt (its last entry in
   * `attempts`), or, with `attempted` false, after a deferral.
   */
  failed(delivery: PendingDelivery, attempted?: boolean): Promise<void>
  /** Moves a delivery to the dead letters. */
  dead(delivery: PendingDelivery): Promise<void>
  deadLetters(filter?: DeadLetterFilter): Promise<DeadLetter[]>
  /** Makes matching dead letters pending again (fresh attempts); returns them. */
  replay(filter?: DeadLetterFilter, onProgress?: (done: number, total: number) => void): Promise<PendingDelivery[]>
  /** Called with deliveries that appear from outside the request path (replays queued by the CLI). */
  onPending(listener: (deliveries: PendingDelivery[]) => void): void
  stats(): SpoolStats
  close(): Promise<void>
}
