/**
 * Dead letters as every queue describes them.
 * @module
 */
import type { HookEvent } from '../events/types.ts'
import type { DeadLetter, DeadLetterFilter, Delivery } from './types.ts'

export function deadLetterOf(event: Omit<HookEvent, 'body' | 'data'>, delivery: Delivery, deadAt: number): DeadLetter {
  return {
    eventId: event.id,
    destination: delivery.destination,
    type: event.type,
    event: event.event,
    ...(event.streamId ? { streamId: event.streamId } : {}),
    receivedAt: event.receivedAt,
    deadAt,
    attempts: delivery.attempts,
  }
}

export function matchesFilter(letter: DeadLetter, filter: DeadLetterFilter): boolean {
  return (
    (filter.eventId === undefined || letter.eventId === filter.eventId) &&
    (filter.destination === undefined || letter.destination === filter.destination)
  )
}
