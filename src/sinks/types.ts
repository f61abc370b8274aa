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
}

/** What every sink factory may be given besides its config. */
export interface SinkOptions {
  /** Where retention reports what it removed or why it could not; silent when absent. */
  log?: Logger
  /** The clock retention compares object ages with; tests pass a fake one. */
  now?: () => number
}
