/**
 * The delivery queue: a pull queue of deliveries (one per event and destination), the shape Svix's and Outpost's
 * queues share. Ingest `put`s an event with its destinations; workers `claim` deliveries with a lease, and end each
 * claim with `ack`, `retry` or `dead`. A lease that is not ended in time expires and the delivery can be claimed
 * again (its holder died or hung), so delivery is at least once.
 *
 * Implementations: `memory` (tests, and the reference), `local` (a segment log on disk, the embedded default). A
 * shared one (NATS JetStream) or a serverless one (S3) implements the same methods; `test/queue/contract.ts` is the
 * suite every implementation passes.
 * @module
 */
import type { HookEvent } from '../events/types.ts'

/** One failed attempt at a delivery. */
export interface Attempt {
  /** When it was made, epoch ms. */
  at: number
  error: string
}

/** A delivery of one event to one destination, as a claim hands it to a worker. */
export interface Delivery {
  eventId: string
  destination: string
  /** When the event was accepted, epoch ms. */
  receivedAt: number
  /** Start of this delivery's retry window (acceptance, or the replay), epoch ms: the max age counts from here. */
  since: number
  /** Failed attempts so far (deferrals are not attempts). */
  attempts: Attempt[]
  /** Not to be tried before this time, epoch ms. */
  nextAt: number
}

/** A claimed delivery: its holder must end it (`ack`, `retry`, `dead`) before `leaseUntil`, or `extend` it. */
export interface Claim extends Delivery {
  /** Identifies this claim (a later claim of the same delivery has another). */
  readonly token: string
  leaseUntil: number
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

export interface QueueStats {
  pendingEvents: number
  pendingDeliveries: number
  deadLetters: number
  /** Bytes the queue holds (pending events and dead letters). */
  bytes: number
  /** Age of the oldest event with a pending delivery, ms; 0 when none. */
  oldestPendingAgeMs: number
  /** Pending deliveries per destination (a destination no longer configured shows up here too). */
  destinations: Record<string, number>
}

export interface ClaimOptions {
  /** Only deliveries to this destination; any destination when absent. */
  destination?: string
  /**
   * Only deliveries of this event: a serverless handler delivering the event it has just put, before it answers.
   * A queue that cannot pick deliveries by event (NATS) ignores it and claims as usual (due deliveries of other
   * events are no harm: the caller makes whatever it claims).
   */
  eventId?: string
  /** At most this many. */
  max: number
  /** How long the claims are held before they expire, ms. */
  leaseMs: number
  /** Wait up to this long for at least one delivery to be due (0 or absent: answer at once). */
  waitMs?: number
  /** Ends a wait early (shutting down). */
  signal?: AbortSignal
}

export interface PutOptions {
  /** The deliveries are not due before this time, epoch ms (delayed work, such as a flap window's end). */
  notBefore?: number
}

export interface Queue {
  /**
   * Durably records `event` with one delivery per destination; resolves once it would survive a crash. An event
   * already put within the dedup window (the same id) is not put again: `duplicate` says so. Rejects with
   * QueueFullError when it cannot take the event (answer 503).
   */
  put(event: HookEvent, destinations: readonly string[], options?: PutOptions): Promise<{ duplicate: boolean }>
  /** Claims due deliveries, oldest due first. */
  claim(options: ClaimOptions): Promise<Claim[]>
  /** The claimed delivery's event, with its body; LeaseLostError when the claim turns out to be another worker's. */
  load(claim: Claim): Promise<HookEvent>
  /** Holds the claim longer (a slow delivery still under way). */
  extend(claim: Claim, leaseMs: number): Promise<void>
  /** The delivery succeeded: it is done. */
  ack(claim: Claim): Promise<void>
  /**
   * The delivery is to be tried again at `at`: after a failed attempt (`attempt`), or, without one, after a deferral
   * or an abandoned attempt (no attempt counted).
   */
  retry(claim: Claim, at: number, attempt?: Attempt): Promise<void>
  /** The delivery goes to the dead letters with every attempt made. */
  dead(claim: Claim, attempts: Attempt[]): Promise<void>
  deadLetters(filter?: DeadLetterFilter): Promise<DeadLetter[]>
  /** Makes matching dead letters pending again with fresh attempts, any number of times; returns how many. */
  replay(filter?: DeadLetterFilter): Promise<number>
  stats(): Promise<QueueStats>
  close(): Promise<void>
}

/** The queue cannot take more right now (disk full, over its size limit, its server unreachable). */
export class QueueFullError extends Error {
  override name = 'QueueFullError'
}

/** The claim's lease expired and the delivery was claimed again: this holder's outcome is not recorded. */
export class LeaseLostError extends Error {
  override name = 'LeaseLostError'
}
