/**
 * The outbox: dedup, then the spool (durable), then the deliverer (after the answer).
 * @module
 */
import type { SpoolStore } from '../spool/types.ts'
import type { Deliverer } from '../delivery/deliverer.ts'
import { createDedup } from './dedup.ts'
import type { Outbox } from './types.ts'

export function createSpooledOutbox(options: {
  store: SpoolStore
  deliverer: Deliverer
  dedupWindowMs: number
  now?: () => number
}): Outbox {
  const { store, deliverer } = options
  const now = options.now ?? Date.now
  const dedup = createDedup(options.dedupWindowMs)
  // Identical deliveries racing each other: the later ones wait for the first to be durable before saying 200.
  const accepting = new Map<string, Promise<void>>()
  deliverer.schedule(store.recovered())
  store.onPending((deliveries) => deliverer.schedule(deliveries))

  return {
    async accept(event, destinations) {
      const earlier = accepting.get(event.id)
      if (earlier && (await earlier.then(() => true, () => false))) return { duplicate: true }
      if (dedup.seen(event.id, now())) return { duplicate: true }
      const work = store.append(event, destinations).then(
        (deliveries) => deliverer.schedule(deliveries),
        (error: unknown) => {
          dedup.forget(event.id) // not kept, so the same delivery sent again must not count as a duplicate
          throw error
        },
      )
      accepting.set(event.id, work)
      try {
        await work
      } finally {
        accepting.delete(event.id)
      }
      return { duplicate: false }
    },
    stats: () => store.stats(),
    lanes: () => deliverer.lanes(),
    deadLetters: (filter) => store.deadLetters(filter),
    async replay(filter, onProgress) {
      const deliveries = await store.replay(filter, onProgress)
      deliverer.schedule(deliveries)
      return deliveries.length
    },
    async close(graceMs = 10_000) {
      await deliverer.close(graceMs)
      await store.close()
    },
  }
}
