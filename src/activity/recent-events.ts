/**
 * The last few hundred accepted events and the state of each of their deliveries, for the operator page: a fold of
 * activity records (accepted, a delivery outcome, a replay). In memory, it is what this process has seen since it
 * started; a shared backend appends every instance's records to one log, and each instance folds all of them.
 * @module
 */
import type { HookEvent } from '../events/types.ts'
import type { OutcomeReport } from '../delivery/deliver-one.ts'

type DeliveryState = 'pending' | 'retrying' | 'delivered' | 'dead'

interface RecentDelivery {
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
  list(limit?: number): Promise<RecentEvent[]>
}

/** One thing that happened to an event, as the page folds it. */
export type Activity =
  | { kind: 'accepted'; at: number; event: Omit<RecentEvent, 'deliveries'>; destinations: string[] }
  | { kind: 'outcome'; at: number; report: OutcomeReport }
  | { kind: 'replayed'; at: number; eventId: string; destination: string }

/** The activity record of an accepted event (hookcast's own destinations, such as stream tracking, left out). */
export function acceptedActivity(event: HookEvent, destinations: readonly string[], at: number): Activity {
  return {
    kind: 'accepted',
    at,
    event: {
      id: event.id,
      source: event.source,
      type: event.type,
      event: event.event,
      ...(event.streamId ? { streamId: event.streamId } : {}),
      timestamp: event.timestamp,
      receivedAt: event.receivedAt,
      bytes: event.body.byteLength,
    },
    destinations: destinations.filter((name) => !name.startsWith('@')),
  }
}

/** Folds activity records, in order, into the newest `capacity` events. */
export function activityFold(capacity: number): { apply(record: Activity): void; list(limit?: number): RecentEvent[] } {
  const events = new Map<string, RecentEvent>() // insertion order = age
  const delivery = (eventId: string, destination: string) =>
    events.get(eventId)?.deliveries.find((d) => d.destination === destination)
  return {
    apply(record) {
      if (record.kind === 'accepted') {
        events.delete(record.event.id) // accepted again (a replay): move to the front
        events.set(record.event.id, {
          ...record.event,
          deliveries: record.destinations.map((destination) => ({
            destination,
            state: 'pending',
            attempts: 0,
            updatedAt: record.at,
          })),
        })
        while (events.size > capacity) events.delete(events.keys().next().value!)
      } else if (record.kind === 'outcome') {
        const { report } = record
        const d = delivery(report.eventId, report.destination)
        if (!d) return
        d.attempts = report.attempt
        d.updatedAt = record.at
        d.state = report.outcome === 'delivered' ? 'delivered' : report.outcome === 'dead' ? 'dead' : 'retrying'
        if (report.error) d.lastError = report.error
        if (report.nextAt !== undefined) d.nextAt = report.nextAt
        else delete d.nextAt
      } else {
        const d = delivery(record.eventId, record.destination)
        if (!d) return
        d.state = 'pending'
        d.attempts = 0
        delete d.nextAt
        d.updatedAt = record.at
      }
    },
    list: (limit = 100) => [...events.values()].reverse().slice(0, limit),
  }
}

/** Recent events of this process, in its memory. */
export function createRecentEvents(capacity = 500, now: () => number = Date.now): RecentEvents {
  const fold = activityFold(capacity)
  return {
    accepted: (event, destinations) => fold.apply(acceptedActivity(event, destinations, now())),
    outcome: (report) => fold.apply({ kind: 'outcome', at: now(), report }),
    replayed: (eventId, destination) => fold.apply({ kind: 'replayed', at: now(), eventId, destination }),
    list: async (limit) => fold.list(limit),
  }
}
