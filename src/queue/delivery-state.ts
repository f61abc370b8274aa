/**
 * A delivery's state as the shared backends store it: the NATS queue's delivery message and the S3 queue's delivery
 * object are both the JSON of a {@link StoredDelivery} plus the backend's own fields. The bytes are exactly
 * `JSON.stringify` of the record, as they always were: deliveries stored by any earlier version read back.
 * @module
 */
import type { Delivery } from './types.ts'

/** What every stored delivery holds. */
export interface StoredDelivery extends Delivery {
  /** The destinations put with the same event copy: the copy goes once none of them refers to it any more. */
  group: string[]
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export function encodeDeliveryState(state: StoredDelivery): Uint8Array {
  return encoder.encode(JSON.stringify(state))
}

/**
 * The stored delivery in `bytes`, or undefined when they are not one: not JSON, a shared field missing, or the
 * backend's own fields refused by `hasOwnFields`.
 */
export function decodeDeliveryState<T extends StoredDelivery>(
  bytes: Uint8Array,
  hasOwnFields: (state: T) => boolean,
): T | undefined {
  const state = parse(decoder.decode(bytes)) as T | undefined
  const ok =
    state &&
    typeof state.eventId === 'string' &&
    typeof state.destination === 'string' &&
    Array.isArray(state.group) &&
    Array.isArray(state.attempts) &&
    typeof state.receivedAt === 'number' &&
    typeof state.since === 'number' &&
    typeof state.nextAt === 'number' &&
    hasOwnFields(state)
  return ok ? state : undefined
}

function parse(raw: string): unknown {
  try {
    return JSON.parse(raw)
  } catch {
    return undefined
  }
}
