/**
 * Where a gateway keeps what must outlive a request, chosen by `spool:`: the queue, the stream state and the
 * thumbnail-link signing key. Local (a directory, one process) or NATS (JetStream streams and KV buckets shared by
 * every instance). Nothing else in the pipeline knows which.
 * @module
 */
import { join } from 'node:path'
import type { Config, LocalSpoolConfig, NatsSpoolConfig, S3SpoolConfig } from './config/schema.ts'
import type { Logger } from './log.ts'
import type { Queue } from './queue/types.ts'
import type { StreamStore } from './state/stream-store.ts'
import type { SigningKeyStore } from './state/signing-key.ts'
import { memoryDedupWindow } from './state/dedup.ts'
import { probeWritable } from './util/probe.ts'
import { createRecentEvents, type RecentEvents } from './admin/recent-events.ts'

export interface Backends {
  queue: Queue
  streams: StreamStore
  signingKey: SigningKeyStore
  /** The page's recent events: this process's (local), or every instance's (NATS). */
  recent: RecentEvents
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

export function openBackends(config: Config, deps: BackendDeps): Promise<Backends> {
  const spool = config.spool
  if (spool.type === 'nats') return openNats(config, spool, deps)
  if (spool.type === 's3') return openS3(config, spool, deps)
  return openLocal(config, spool, deps)
}

/** Serverless: everything in one bucket, changed by conditional writes (no process outlives an invocation). */
async function openS3(config: Config, spool: S3SpoolConfig, deps: BackendDeps): Promise<Backends> {
  const [{ openS3Queue }, { openS3StreamStore }, { s3SigningKeyStore }] = await Promise.all([
    import('./queue/s3/s3-queue.ts'), import('./state/s3/s3-stream-store.ts'), import('./state/s3/s3-signing-key.ts'),
  ])
  const { type: _type, dedupWindow, prefix, ...connection } = spool
  // No background sweeps: a function is frozen after it answers (the scheduled run sweeps instead).
  const queue = await openS3Queue({ ...connection, prefix, dedupWindowMs: dedupWindow, sweepEveryMs: 0, log: deps.log, now: deps.now })
  // maxThumbnailBytes does not apply: S3 has no cheap byte count; thumbnails are bounded per stream instead.
  const streams = openS3StreamStore({
    ...connection, prefix, ...deps, maxStreams: config.streams.maxStreams, keepEndedMs: config.streams.keepEnded,
  })
  return {
    queue,
    streams,
    signingKey: s3SigningKeyStore({ ...connection, prefix }),
    recent: createRecentEvents(500, deps.now),
    async problems() {
      const support = await queue.probe().catch((error: Error) => error)
      if (support instanceof Error) return [`bucket ${spool.bucket} not reachable: ${support.message}`]
      return Object.values(support).every(Boolean) ? [] : [`bucket ${spool.bucket} does not honour conditional writes`]
    },
    async close() {
      await queue.close()
      await streams.close()
    },
  }
}

async function openLocal(config: Config, spool: LocalSpoolConfig, deps: BackendDeps): Promise<Backends> {
  const [{ openLocalQueue }, { openLocalStreamStore }, { localSigningKeyStore }] = await Promise.all([
    import('./queue/local/local-queue.ts'), import('./state/local-stream-store.ts'), import('./state/local-signing-key.ts'),
  ])
  const streamsDir = config.streams.dir ?? join(spool.dir, 'streams')
  const queue = await openLocalQueue({ ...spool, dedup: memoryDedupWindow(spool.dedupWindow, deps.now), log: deps.log, now: deps.now })
  const streams = await openLocalStreamStore({
    dir: streamsDir, ...deps,
    maxStreams: config.streams.maxStreams, keepEndedMs: config.streams.keepEnded, maxThumbnailBytes: config.streams.maxThumbnailBytes,
  })
  return {
    queue,
    streams,
    signingKey: localSigningKeyStore(streamsDir),
    recent: createRecentEvents(500, deps.now),
    async problems() {
      const problem = await probeWritable(spool.dir)
      return problem ? [`spool not writable: ${problem}`] : []
    },
    async close() {
      await queue.close()
      await streams.close()
    },
  }
}

async function openNats(config: Config, spool: NatsSpoolConfig, deps: BackendDeps): Promise<Backends> {
  const [{ connectNats }, { openNatsQueue }, { openNatsStreamStore }, { natsSigningKeyStore }, { natsRecentEvents }, { natsDedupWindow }] = await Promise.all([
    import('./queue/nats/connect.ts'), import('./queue/nats/nats-queue.ts'), import('./state/nats/nats-stream-store.ts'),
    import('./state/nats/nats-signing-key.ts'), import('./state/nats/nats-activity.ts'), import('./state/nats/nats-dedup.ts'),
  ])
  const connection = { servers: spool.servers, ...(spool.auth ? { auth: spool.auth } : {}) }
  const nc = await connectNats({ ...connection, name: 'hookcast-state' })
  // JetStream's duplicate window drops a repeated put across instances; ids of completed puts are also kept in KV,
  // since after a restart of nats-server JetStream only remembers the ids of messages still stored.
  const queue = await openNatsQueue({
    ...connection, prefix: spool.prefix, replicas: spool.replicas, dedupWindowMs: spool.dedupWindow, ackWaitMs: spool.ackWait,
    ...(spool.maxBytes !== undefined ? { maxBytes: spool.maxBytes } : {}), publishTimeoutMs: spool.publishTimeout,
    completed: natsDedupWindow({ nc, windowMs: spool.dedupWindow, bucket: `${spool.prefix}-dedup`, replicas: spool.replicas }),
    maxBodyBytes: config.server.maxBodyBytes, log: deps.log, now: deps.now,
  })
  const streams = await openNatsStreamStore({
    nc, ...deps, replicas: spool.replicas, bucket: `${spool.prefix}-streams`, thumbnailBucket: `${spool.prefix}-thumbnails`,
    maxStreams: config.streams.maxStreams, keepEndedMs: config.streams.keepEnded, maxThumbnailBytes: config.streams.maxThumbnailBytes,
  })
  return {
    queue,
    streams,
    signingKey: natsSigningKeyStore({ nc, bucket: `${spool.prefix}-keys`, replicas: spool.replicas }),
    recent: await natsRecentEvents({ nc, prefix: spool.prefix, replicas: spool.replicas, log: deps.log, now: deps.now }),
    async problems() {
      // Both connections up: the queue's, and the state's (a flush answers once the server has it).
      const stateUp = await Promise.race([nc.flush().then(() => true, () => false), new Promise<boolean>((resolve) => setTimeout(resolve, 1_000, false))])
      return queue.connected() && stateUp ? [] : ['NATS is not reachable']
    },
    async close() {
      await queue.close()
      await streams.close()
      await nc.close()
    },
  }
}
