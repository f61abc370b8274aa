/**
 * The local queue's index of pending events: where each one's newest record lies in the segment log, which
 * destinations still wait for it, how many events each segment still holds (a segment with none is deleted), and
 * the bodies kept in memory or read back once for all the deliveries under way.
 * @module
 */
import type { SegmentLog } from './segment-log.ts'
import { bodyMatches } from '../../events/body-check.ts'
import type { EventMeta } from '../../queue/loaded-event.ts'

export interface StoredEvent {
  meta: EventMeta
  segment: number
  bodyOffset: number
  bodyLength: number
  /** Destinations still pending. */
  pending: Set<string>
  /** Destinations with a delivery under way (between load and its outcome): the event stays where it is. */
  busy: Set<string>
  /** Destinations whose end (delivered, dead) is being written: a copy forward leaves them out. */
  finishing: Set<string>
  body: Uint8Array | undefined
  /** A body read back from disk, shared by the deliveries under way (one read and hash check for all). */
  loaded?: Uint8Array
  reading?: Promise<Uint8Array>
  /** Its record being copied forward: outcomes wait, so none is written before the copy that would undo it. */
  copying?: Promise<void>
}

/** Larger bodies are not cached: reading one back (page cache, hash check) costs less than holding many in memory. */
const CACHE_LARGEST = 256 * 1024

export class EventIndex {
  readonly events = new Map<string, StoredEvent>()
  /** segment -> events whose newest record is in it */
  readonly live = new Map<number, number>()
  #cachedBytes = 0
  readonly #cacheBytes: number
  readonly #log: () => SegmentLog

  constructor(cacheBytes: number, log: () => SegmentLog) {
    this.#cacheBytes = cacheBytes
    this.#log = log
  }

  /** Records where an event's newest record is (a new event, or the same one written again). */
  place(meta: EventMeta, segment: number, bodyOffset: number, bodyLength: number, body?: Uint8Array): StoredEvent {
    let stored = this.events.get(meta.id)
    if (stored) {
      this.live.set(stored.segment, this.live.get(stored.segment)! - 1)
      Object.assign(stored, { segment, bodyOffset, bodyLength })
    } else {
      stored = {
        meta,
        segment,
        bodyOffset,
        bodyLength,
        pending: new Set(),
        busy: new Set(),
        finishing: new Set(),
        body: undefined,
      }
      this.events.set(meta.id, stored)
    }
    this.live.set(segment, (this.live.get(segment) ?? 0) + 1)
    if (
      body &&
      !stored.body &&
      body.byteLength <= CACHE_LARGEST &&
      this.#cachedBytes + body.byteLength <= this.#cacheBytes
    ) {
      stored.body = body
      this.#cachedBytes += body.byteLength
    }
    return stored
  }

  /** Forgets a delivery; forgets the event once none is left. */
  resolve(eventId: string, destination: string): void {
    const stored = this.events.get(eventId)
    if (!stored?.pending.delete(destination)) return
    this.settle(eventId, destination)
    if (stored.pending.size > 0) return
    this.events.delete(eventId)
    this.live.set(stored.segment, this.live.get(stored.segment)! - 1)
    if (stored.body) this.#cachedBytes -= stored.body.byteLength
  }

  /** A delivery of the event starts: its body must stay where it is. */
  busy(eventId: string, destination: string): StoredEvent {
    const stored = this.events.get(eventId)
    if (!stored) throw new Error(`event ${eventId} is not pending in the queue`)
    stored.busy.add(destination)
    return stored
  }

  /** The end of a delivery attempt (idempotent). */
  settle(eventId: string, destination: string): void {
    const stored = this.events.get(eventId)
    if (!stored) return
    stored.busy.delete(destination)
    if (stored.busy.size === 0) stored.loaded = undefined
  }

  async bodyOf(stored: StoredEvent): Promise<Uint8Array> {
    if (stored.body) return stored.body
    if (stored.loaded) return stored.loaded
    // The deliveries of an event to its destinations start together: they share one read.
    stored.reading ??= this.#readBack(stored).finally(() => {
      stored.reading = undefined
    })
    const body = await stored.reading
    if (stored.busy.size > 0) stored.loaded = body
    return body
  }

  oldestReceivedAt(): number {
    let oldest = Infinity
    for (const stored of this.events.values()) oldest = Math.min(oldest, stored.meta.receivedAt)
    return oldest
  }

  async #readBack(stored: StoredEvent): Promise<Uint8Array> {
    const body = await this.#log().read(stored.segment, stored.bodyOffset, stored.bodyLength)
    if (!bodyMatches(stored.meta, body))
      throw new Error(`queue record of event ${stored.meta.id} is corrupt (body hash differs)`)
    return body
  }
}
