/**
 * An outbox that delivers before answering: the answer waits for every destination, and a failure is a 503.
 * For runtimes where nothing may run after the response; slower answers, and no retry beyond the platform's (none).
 * @module
 */
import type { Destination } from '../destinations/types.ts'
import type { Logger } from '../log.ts'
import { OutboxFullError, type Outbox } from './types.ts'

export function createInlineOutbox(destinations: ReadonlyMap<string, Destination>, log: Logger): Outbox {
  return {
    async accept(event, names) {
      const results = await Promise.allSettled(names.map((name) => destinations.get(name)!.deliver(event)))
      const failed = results.flatMap((result, i) => (result.status === 'rejected' ? [{ name: names[i], error: String(result.reason) }] : []))
      for (const failure of failed) log.error('delivery failed', { id: event.id, destination: failure.name, error: failure.error })
      if (failed.length > 0) throw new OutboxFullError(`${failed.length} destination(s) failed`)
      return { duplicate: false }
    },
    async close() {},
  }
}
