/**
 * A storage sink: a destination that stores each event as one object under a key rendered from its template.
 * @module
 */
import type { HookEvent } from '../events/types.ts'
import type { Destination } from '../destinations/types.ts'
import type { Logger } from '../log.ts'

export interface Sink extends Destination {
  readonly kind: 'sink'
  /** The key (relative path) the event is stored under; the same event always gets the same key. */
  keyFor(event: HookEvent): string
  /**
   * A URL from which the object stored for `event` can be fetched by a third party (Slack's `image_url`): a
   * presigned/signed URL or a public base URL. Absent when this sink cannot make one.
   */
  urlFor?(event: HookEvent): Promise<string>
  /**
   * Stores the event before the gateway answers, as durably as the local spool's unsynced write (`spool.fsync:
   * false`), so the spool need not hold a delivery to this sink: one write of the body instead of two. Only a sink
   * whose write is local has it; when it fails, the event goes through the spool as usual.
   */
  storeAtAccept?(event: HookEvent, signal?: AbortSignal): Promise<void>
}

/** What every sink factory may be given besides its config. */
export interface SinkOptions {
  /** Where retention reports what it removed or why it could not; silent when absent. */
  log?: Logger
  /** The clock retention compares object ages with; tests pass a fake one. */
  now?: () => number
}
