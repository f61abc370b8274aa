/**
 * A check as an event: the tracker's own delayed work, put in the queue for the tracker alone (`@streams`) with
 * `notBefore: at`, so a flap window's end survives a restart and any instance may pick it up. Its type,
 * `hookcast.check`, is internal: no route matches a `hookcast.*` kind, and no platform hook reaches the tracker but
 * feeds and thumbnails, so a check comes only from hookcast itself.
 * @module
 */
import type { HookEvent } from '../events/types.ts'
import { createHash } from 'node:crypto'
import { HOOKCAST_SOURCE } from './transition-event.ts'
import { crcOf } from '../events/body-check.ts'

export const CHECK_TYPE = 'hookcast.check'

export interface Check {
  streamId: string
  /** Not to be acted on before this time, epoch ms. */
  at: number
  /** The delivery whose claims this check carries on (a retry of a failed check); its own id otherwise. */
  by?: string
  /** Failed tries before this one (the retry backoff). */
  attempt: number
}

/** The check of `streamId` at `at`. Its id is the same for the same check, so putting it twice queues it once. */
export async function checkEvent(check: Check, now: number): Promise<HookEvent> {
  const data: Record<string, unknown> = {
    streamId: check.streamId,
    at: check.at,
    ...(check.by ? { by: check.by } : {}),
    attempt: check.attempt,
  }
  const body = new TextEncoder().encode(JSON.stringify({ type: CHECK_TYPE, event: 'check', timestamp: check.at, data }))
  return {
    // node:crypto, synchronous: a check's id is ready in the same turn (WebCrypto's completes on another thread).
    id: createHash('sha256').update(body).digest('hex').slice(0, 24),
    source: HOOKCAST_SOURCE,
    type: CHECK_TYPE,
    event: 'check',
    timestamp: check.at,
    // Received when it is due: the spool's oldest-pending age and a delivery's max age count from then, so a
    // silence check waiting its 10 minutes does not read as a stuck spool.
    receivedAt: Math.max(now, check.at),
    streamId: check.streamId,
    contentType: 'application/json',
    body,
    bodyCrc32: crcOf(body),
    data,
  }
}

/** The check an event carries, or undefined when it is not a well-formed check. */
export function readCheck(event: HookEvent): Check | undefined {
  if (event.type !== CHECK_TYPE) return undefined
  const { streamId, at, by, attempt } = event.data ?? {}
  if (typeof streamId !== 'string' || typeof at !== 'number') return undefined
  return { streamId, at, ...(typeof by === 'string' ? { by } : {}), attempt: typeof attempt === 'number' ? attempt : 0 }
}
