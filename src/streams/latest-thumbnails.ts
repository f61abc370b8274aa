/**
 * A stream's latest thumbnail changes every 30 s and a crash may lose it, so it waits a second in memory and only
 * the newest per stream is written (one write, not one per thumbnail). A write that fails is logged, counted and
 * retried with a backoff, unless a newer thumbnail of the stream came meanwhile.
 * @module
 */
import type { ThumbnailRef } from './stream-types.ts'

/** How long the newest thumbnail of a stream waits in memory before it is written. */
const FLUSH_MS = 1_000
/** Pending thumbnails are written at once past this many bytes. */
const MAX_PENDING_BYTES = 32 * 1024 * 1024
const MAX_RETRY_MS = 60_000

export interface LatestThumbnails {
  /** The time of the stream's thumbnail waiting to be written, if any. */
  pendingTimestamp(streamId: string): number | undefined
  /** Holds `ref` as the stream's newest (replacing one waiting); writes everything at once past the byte bound. */
  hold(streamId: string, ref: ThumbnailRef, body: Uint8Array): Promise<void>
  /** Writes what is waiting, and stops. */
  close(): Promise<void>
}

export function latestThumbnails(options: {
  write(ref: ThumbnailRef, body: Uint8Array): Promise<void>
  failed(message: string, fields: Record<string, unknown>, error: unknown): void
}): LatestThumbnails {
  const pending = new Map<string, { ref: ThumbnailRef; body: Uint8Array }>()
  let pendingBytes = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  let retries = 0
  let closed = false

  function schedule(wait: number): void {
    if (closed) return
    timer ??= setTimeout(() => {
      timer = undefined
      flush().catch((error) => options.failed('cannot save latest thumbnails', {}, error))
    }, wait)
  }

  async function flush(): Promise<void> {
    const batch = [...pending]
    pending.clear()
    pendingBytes = 0
    let failures = 0
    for (const [streamId, item] of batch) {
      try {
        await options.write(item.ref, item.body)
      } catch (error) {
        failures++
        options.failed("cannot save a stream's latest thumbnail; retrying", { stream: streamId }, error)
        if (!pending.has(streamId) && !closed) {
          pending.set(streamId, item)
          pendingBytes += item.body.byteLength
        }
      }
    }
    if (failures === 0) retries = 0
    else if (pending.size > 0) schedule(Math.min(MAX_RETRY_MS, FLUSH_MS * 2 ** ++retries))
  }

  return {
    pendingTimestamp: (streamId) => pending.get(streamId)?.ref.timestamp,
    async hold(streamId, ref, body) {
      pendingBytes += body.byteLength - (pending.get(streamId)?.body.byteLength ?? 0)
      pending.set(streamId, { ref, body })
      if (pendingBytes <= MAX_PENDING_BYTES) return schedule(FLUSH_MS)
      clearTimeout(timer)
      timer = undefined
      await flush()
    },
    async close() {
      closed = true
      clearTimeout(timer)
      timer = undefined
      await flush().catch((error) => options.failed('cannot save latest thumbnails at close', {}, error))
    },
  }
}
