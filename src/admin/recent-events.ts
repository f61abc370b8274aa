/**
 * The last few hundred accepted events and the state of each of their deliveries, for the operator page.
 * In memory: it shows what this process has seen since it started.
 * @module
 */
import type { HookEvent } from '../events/types.ts'
import type { OutcomeReport } from '../delivery/deliver-one.ts'

export type DeliveryState = 'pending' | 'retrying' | 'delivered' | 'dead'

export interface RecentDelivery {
  destination: string
  state: DeliveryState
  attempts: number
  nextAt?: number
  lastError?: string
  updatedAt: number
}

export interface RecentEvent {
  id: string
  source: string
  type: string
  event: string
  streamId?: string
  timestamp: number
  receivedAt: number
  bytes: number
  deliveries: RecentDelivery[]
}

export interface RecentEvents {
  accepted(event: HookEvent, destinations: readonly string[]): void
  outcome(report: OutcomeReport): void
  replayed(eventId: string, destination: string): void
  /** Newest first. */
  list(limit?: number): RecentEvent[]
}

export function createRecentEvents(capacity = 500, now: () => number = Date.now): RecentEvents {
  const events = new Map<string, RecentEvent>() // insertion order = age

  const delivery = (eventId: string, destination: string) => events.get(eventId)?.deliveries.find((d) => d.destination === destination)

  return {
    accepted(event, destinations) {
      const visible = destinations.filter((name) => !name.startsWith('@')) // hookcast's own (stream tracking)
      const existing = events.get(event.id)
      if (existing) events.delete(event.id) // accepted again (a replay): move to the front
      events.set(event.id, {
        id: event.id, source: event.source, type: event.type, event: event.event,
        ...(event.streamId ? { streamId: event.streamId } : {}),
        timestamp: event.timestamp, receivedAt: event.receivedAt, bytes: event.body.byteLength,
        deliveries: visible.map((destination) => ({ destination, state: 'pending', attempts: 0, updatedAt: now() })),
      })
      while (events.size > capacity) events.delete(events.keys().next().value!)
    },
    outcome(report) {
      const d = delivery(report.eventId, report.destination)
      if (!d) return
      d.attempts = report.attempt
      d.updatedAt = now()
      d.state = report.outcome === 'delivered' ? 'delivered' : report.outcome === 'dead' ? 'dead' : 'retrying'
      if (report.error) d.lastError = report.error
      if (report.nextAt !== undefined) d.nextAt = report.nextAt
      else delete d.nextAt
    },
    replayed(eventId, destination) {
      const d = delivery(eventId, destination)
      if (!d) return
      d.state = 'pending'
      d.attempts = 0
      delete d.nextAt
      d.updatedAt = now()
    },
    list(limit = 100) {
      return [...events.values()].reverse().slice(0, limit)
    },
  }
}
