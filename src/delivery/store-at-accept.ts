/**
 * Deliveries made before the answer. A destination that can store an event as durably as the local spool (an fs
 * sink) gets it during the request, and the spool keeps only the event's other deliveries: the body is written once
 * for that destination instead of twice (spool, then sink), and the delivery costs no claim, record or lane. A store
 * that fails is no loss: that delivery goes through the spool as usual, with its retries.
 * @module
 */
import type { Destination } from '../destinations/types.ts'
import type { HookEvent } from '../events/types.ts'
import type { Logger } from '../log.ts'
import { attemptDeadlines } from './attempt-deadlines.ts'
import { errorMessage, type OutcomeReport } from './deliver-one.ts'

interface StoredAtAccept {
  /** The destinations left for the spool. */
  queued: readonly string[]
  /** Reports the stores made (outcome and log), once the event is accepted. */
  report(): void
}

/** Stores `event` in those of `names` that can take it now. */
export type StoreAtAccept = (event: HookEvent, names: readonly string[]) => Promise<StoredAtAccept>

interface StoreAtAcceptOptions {
  destinations: ReadonlyMap<string, Destination>
  /** The destination's attempt timeout (`delivery.timeout`): a store that takes longer goes to the spool. */
  timeoutMs(name: string): number
  log: Logger
  now?: () => number
  onOutcome?: (report: OutcomeReport) => void
}

type Store = (event: HookEvent, signal?: AbortSignal) => Promise<void>

const NOTHING_STORED: Omit<StoredAtAccept, 'queued'> = { report() {} }

export function storeAtAccept(options: StoreAtAcceptOptions): StoreAtAccept {
  const now = options.now ?? Date.now
  const deadlines = attemptDeadlines()
  // By destination name (the destinations do not change once the gateway runs): how it stores, and its timeout.
  const stores = new Map<string, { store: Store; timeoutMs: number } | undefined>()
  const storeOf = (name: string) => {
    if (!stores.has(name)) {
      const destination = options.destinations.get(name) as { storeAtAccept?: Store } | undefined
      const store = destination?.storeAtAccept?.bind(destination)
      stores.set(name, store && { store, timeoutMs: options.timeoutMs(name) })
    }
    return stores.get(name)
  }

  /** One store; false when it failed (the spool delivers it). */
  async function storeOne(name: string, event: HookEvent): Promise<boolean> {
    const { store, timeoutMs } = storeOf(name)!
    const deadline = deadlines(timeoutMs)
    try {
      await store(event, deadline.signal)
      return true
    } catch (error) {
      options.log.debug('cannot store before the answer; the spool delivers it', {
        destination: name,
        id: event.id,
        error: errorMessage(error),
      })
      return false
    } finally {
      deadline.done()
    }
  }

  return async (event, names) => {
    if (!names.some((name) => storeOf(name))) return { queued: names, ...NOTHING_STORED }
    const started = now()
    const outcomes = await Promise.all(names.map((name) => storeOf(name) !== undefined && storeOne(name, event)))
    const ms = now() - started
    return {
      queued: names.filter((_, i) => !outcomes[i]),
      report() {
        for (const [i, destination] of names.entries()) {
          if (!outcomes[i]) continue
          const fields = { destination, id: event.id, attempt: 1, ms }
          try {
            options.onOutcome?.({ ...fields, eventId: event.id, outcome: 'delivered' })
          } catch (listenerError) {
            options.log.error('outcome listener failed', { error: errorMessage(listenerError) })
          }
          options.log.info('delivered', fields)
        }
      },
    }
  }
}
