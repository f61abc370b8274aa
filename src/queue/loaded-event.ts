/**
 * What a queue keeps of an event apart from its body, and the event it hands back to a delivery. A JSON hook's
 * `data` is not kept apart: it is in the body, and is parsed from it the first time a destination reads it, so a
 * sink that stores the body as it is (fs, S3, GCS) never pays for a parse it does not use.
 * @module
 */
import type { HookEvent } from '../events/types.ts'

export type EventMeta = Omit<HookEvent, 'body' | 'data'>

/** The event without its body and its parsed `data`: what a queue keeps beside the body. */
export function eventMeta(event: HookEvent): EventMeta {
  const { body: _body, data: _data, ...meta } = event
  return meta
}

const decoder = new TextDecoder()

/** The event as `put` took it: metadata, body and, for a JSON hook, its `data` (parsed when first read). */
export function loadedEvent(meta: EventMeta, body: Uint8Array): HookEvent {
  const event: HookEvent = { ...meta, body }
  if (meta.contentType !== 'application/json') return event
  let parsed = false
  let data: Record<string, unknown> | undefined
  Object.defineProperty(event, 'data', {
    enumerable: true,
    configurable: true,
    get() {
      if (!parsed) {
        parsed = true
        data = (JSON.parse(decoder.decode(body)) as { data?: Record<string, unknown> }).data ?? undefined
      }
      return data
    },
    set(value: Record<string, unknown> | undefined) {
      parsed = true
      data = value
    },
  })
  return event
}
