/**
 * What the worker delivers to: a destination is a storage sink or a notifier named in the config, or hookcast's
 * own stream tracker (`@streams`). A delivery is one event to one destination.
 * @module
 */
import type { HookEvent } from '../events/types.ts'

export interface Destination {
  readonly name: string
  /** `sink` or `notifier` (configured), or `internal` (hookcast's own stream tracking), for logs and metrics. */
  readonly kind: 'sink' | 'notifier' | 'internal'
  /**
   * Deliveries under way at once when the config sets none (`delivery.concurrency`). A local write is cheap but
   * takes several turns of the event loop, so a busy gateway keeps up only with many under way; a remote API has
   * rate limits. Default 8.
   */
  readonly concurrency?: number
  /**
   * Delivers one event. Must be idempotent: a redelivery after a crash or a replay writes the same result again.
   * Throws DeliveryError to say whether trying again can help; any other error counts as transient. `traceparent`
   * (tracing on) names the attempt's span, for a destination that passes trace context on (the HTTP notifier).
   */
  deliver(event: HookEvent, signal?: AbortSignal, traceparent?: string): Promise<void>
  /**
   * What `hookcast check` can find wrong without delivering anything (unreachable, bad credentials, a missing
   * bucket); undefined when all looks right.
   */
  check?(): Promise<string | undefined>
  close?(): Promise<void>
}

/** A failed delivery, classified for the retry schedule. */
export class DeliveryError extends Error {
  override name = 'DeliveryError'
  /** True when retrying cannot help (bad credentials, missing bucket, a 4xx): go straight to dead letters. */
  readonly permanent: boolean
  /** The destination asked us to wait this long (Retry-After), in ms. */
  readonly retryAfterMs: number | undefined

  constructor(message: string, options: { permanent?: boolean; retryAfterMs?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.permanent = options.permanent ?? false
    this.retryAfterMs = options.retryAfterMs
  }
}

/**
 * Not a failure: the destination cannot act on this event yet (a "live" alert waiting for the stream's first
 * thumbnail). The delivery is tried again at `until`, without counting an attempt or tripping the circuit.
 */
export class DeliveryDeferred extends Error {
  override name = 'DeliveryDeferred'
  /** Epoch ms. */
  readonly until: number

  constructor(reason: string, until: number) {
    super(reason)
    this.until = until
  }
}
