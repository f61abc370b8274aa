/**
 * The seam between accepting an event and delivering it. The local spool implements it; so can a store shared by
 * several instances (Redis, NATS), or an inline deliverer for runtimes where nothing runs after the answer.
 * @module
 */
import type { HookEvent } from '../events/types.ts'

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
  /** Stops taking events, lets in-flight deliveries finish for at most `graceMs`, and releases resources. */
  close(graceMs?: number): Promise<void>
}

/** The outbox cannot take more right now (disk full, over its size limit). */
export class OutboxFullError extends Error {
  override name = 'OutboxFullError'
}
