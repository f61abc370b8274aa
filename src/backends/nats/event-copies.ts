/**
 * Reads an event's stored copy by its sequence in the events stream.
 *
 * Direct Get first: the stored bytes as they are, answered by any replica. The API's message get wraps them in
 * JSON with the body in base64: for a 100 KB thumbnail, a JSON parse of 140 KB and a base64 decode, most of what a
 * delivery cost. A replica that has not applied the put yet answers "not found": then the stream's leader is asked
 * through the API. A Direct Get that fails otherwise (a stream or server that does not allow it: the request times
 * out) turns it off for this instance, with a warning, and the API is used from then on.
 * @module
 */
import type { StoredMsg } from '@nats-io/jetstream'
import type { NatsContext } from './queue-context.ts'
import { errorText } from '../../util/error-text.ts'

export interface EventCopies {
  /** The copy at `seq`, or null when the stream has no message there. */
  read(seq: number): Promise<StoredMsg | null>
}

export function eventCopies(ctx: NatsContext): EventCopies {
  const { jsm, names, log } = ctx
  const jetStream = names.jetStreams.events
  let direct = ctx.directGet

  return {
    async read(seq) {
      if (direct) {
        try {
          const found = await jsm.direct.getMessage(jetStream, { seq })
          if (found) return found
        } catch (error) {
          direct = false
          log.warn('NATS Direct Get failed; event bodies are read through the JetStream API from now on', {
            jetStream,
            error: errorText(error),
          })
        }
      }
      return jsm.streams.getMessage(jetStream, { seq })
    },
  }
}
