/**
 * A backend: where a gateway keeps what must outlive a request — the queue, the stream store, the thumbnail-link
 * signing key, the page's recent events and sessions — chosen by the config's `spool:`. Nothing else in the
 * pipeline knows which one it runs on.
 * @module
 */
import type { Config } from '../config/config-schema.ts'
import type { Logger } from '../log.ts'
import type { DeadLetterFilter, Queue } from '../queue/types.ts'
import type { StreamStore } from '../streams/stream-store.ts'
import type { SigningKeyStore } from '../streams/signing-key.ts'
import type { RecentEvents } from '../activity/recent-events.ts'
import type { SessionStore } from '../admin/session-store.ts'

/** An open backend. */
export interface Backend {
  queue: Queue
  streams: StreamStore
  signingKey: SigningKeyStore
  /** The page's recent events: this process's (local, S3), or every instance's (NATS). */
  recent: RecentEvents
  /** The live page's sessions and sign-in failure counts: this process's (local), or every instance's (NATS, S3). */
  sessions: SessionStore
  /** Where it keeps things, for the log. */
  where: string
  /** What keeps the gateway from being ready (empty when ready). */
  problems(): Promise<string[]>
  /** Closes the queue and the stores (after the worker stopped). */
  close(): Promise<void>
}

export interface BackendDeps {
  log: Logger
  now: () => number
  onBackgroundFailure(task: string): void
  onLimit(limit: string): void
}

/** What `hookcast check` found: a line to show, and the problems. */
export interface BackendCheck {
  summary: string
  problems: string[]
}

export type ReplayProgress = (done: number, total: number) => void

/** One kind of backend, for its `spool:` settings `S`: the gateway opens it; the CLI checks it and replays into it. */
export interface BackendKind<S> {
  open(config: Config, spool: S, deps: BackendDeps): Promise<Backend>
  check(config: Config, spool: S): Promise<BackendCheck>
  /** Makes dead letters pending again from another process than the gateway's; resolves with how many. */
  replay(spool: S, filter: DeadLetterFilter, onProgress?: ReplayProgress): Promise<number>
  /** Whether replayed letters wait for a running gateway to take them (local), or are pending at once (shared). */
  replayWaitsForGateway: boolean
}

/** Replays through a shared queue opened for the purpose (NATS, S3: any process may). */
export async function replayThrough(
  queue: Queue,
  filter: DeadLetterFilter,
  onProgress?: ReplayProgress,
): Promise<number> {
  try {
    const count = await queue.replay(filter)
    onProgress?.(count, count)
    return count
  } finally {
    await queue.close()
  }
}
