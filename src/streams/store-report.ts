/**
 * How the stream stores and the tracker report what they cannot fix by themselves: a background step that failed
 * (logged; it is tried again later) and a bound that was hit, each counted through the caller's metrics callbacks.
 * @module
 */
import type { Logger } from '../log.ts'

export interface StoreReport {
  failed(task: string, message: string, fields: Record<string, unknown>, error: unknown): void
  /**
   * `streams_full`, `stream_evicted`, `stream_expired`, `thumbnail_bytes`, `stream_id_too_long` (stores);
   * `feed_id_too_long`, `feeds_full`, `future_timestamp` (the tracker).
   */
  limit(what: string): void
}

interface StoreCallbacks {
  onBackgroundFailure?(task: string): void
  onLimit?(limit: string): void
}

export function storeReport(log: Logger, callbacks: StoreCallbacks): StoreReport {
  const count = (callback: ((what: string) => void) | undefined, what: string) => {
    try {
      callback?.(what)
    } catch {
      // a metrics callback must not turn a logged failure into a crash
    }
  }
  return {
    failed(task, message, fields, error) {
      log.error(message, { ...fields, error: String(error) })
      count(callbacks.onBackgroundFailure, task)
    },
    limit: (what) => count(callbacks.onLimit, what),
  }
}
