/**
 * Reads an event's stored copy by its sequence in the events JetStream stream. Direct Get first, answered by any
 * replica with the stored bytes as they are: the API's message get wraps them in JSON with the body in base64, most
 * of a delivery's cost for a 100 KB thumbnail. A replica that has not applied the put yet answers "not found", and
 * the leader is asked through the API. A Direct Get that fails otherwise (a server that does not allow it, or one
 * restarting) turns it off for this instance for a minute, then it is tried again.
 * @module
 */
import type { StoredMsg } from '@nats-io/jetstream'
import type { NatsContext } from './queue-context.ts'
import { errorText } from '../../util/error-text.ts'

export interface EventCopies {
  /** The copy at `seq`, or null when the events stream has no message there. */
  read(seq: number): Promise<StoredMsg | null>
}

/** How long a failed Direct Get is not tried again, ms. */
const DIRECT_OFF_MS = 60_000

export function eventCopies(ctx: NatsContext): EventCopies {
  const { jsm, names, log } = ctx
  const jetStream = names.jetStreams.events
  let offUntil = ctx.directGet ? 0 : Infinity

  return {
    async read(seq) {
      if (ctx.now() >= offUntil) {
        try {
          const found = await jsm.direct.getMessage(jetStream, { seq })
          if (found) return found
        } catch (error) {
          // A server or JetStream stream that does not allow it times out; so does one restarting.
          offUntil = ctx.now() + DIRECT_OFF_MS
          log.warn('NATS Direct Get failed; event bodies are read through the JetStream API for a minute', {
            jetStream,
            error: errorText(error),
          })
        }
      }
      return jsm.streams.getMessage(jetStream, { seq })
    },
  }
}
