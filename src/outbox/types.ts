/**
 * The seam between accepting an event and delivering it: what the app and the admin API see of delivery.
 * @module
 */
import type { HookEvent } from '../events/types.ts'
import type { DeadLetter, DeadLetterFilter, SpoolStats } from '../spool/types.ts'
import type { LaneStatus } from '../delivery/deliverer.ts'

export interface AcceptResult {
  /** True when an identical delivery was accepted recently: answered 200, not fanned out again. */
  duplicate: boolean
}

export interface Outbox {
  /**
   * Takes responsibility for delivering `event` to each of `destinations`. Resolves once that responsibility is
   * durable (the 200 may go out); rejects with OutboxFullError when it cannot be taken (answer 503).
   */
  accept(event: HookEvent, destinations: readonly string[]): Promise<AcceptResult>
  stats(): SpoolStats
  lanes(): LaneStatus[]
  deadLetters(filter?: DeadLetterFilter): Promise<DeadLetter[]>
  /** Re-drives matching dead letters now; returns how many. */
  replay(filter?: DeadLetterFilter, onProgress?: (done: number, total: number) => void): Promise<number>
  /** Stops taking events, lets deliveries under way finish for at most `graceMs`, and releases resources. */
  close(graceMs?: number): Promise<void>
}

/** The outbox cannot take more right now (disk full, over its size limit). */
export class OutboxFullError extends Error {
  override name = 'OutboxFullError'
}
