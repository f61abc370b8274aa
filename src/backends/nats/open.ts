/**
 * The NATS backend: JetStream streams and KV buckets on a NATS server (or cluster) that every instance shares, so
 * any number of gateways take hooks and make deliveries from one backlog.
 * @module
 */
import type { Config } from '../../config/config-schema.ts'
import type { NatsSpoolConfig } from '../../config/backend.ts'
import type { NatsConnection } from '@nats-io/transport-node'
import { silentLogger } from '../../log.ts'
import { replayThrough, type BackendCheck, type BackendKind } from '../types.ts'
import { connectNats, inspectNats } from './connect.ts'
import { openNatsQueue, type NatsQueueOptions } from './queue.ts'
import { openNatsStreamStore } from './stream-store.ts'
import { natsSigningKeyStore } from './signing-key.ts'
import { natsRecentEvents } from './activity.ts'
import { natsDedupWindow } from './dedup.ts'
import { natsSessionStore } from './session-store.ts'

export const natsBackend: BackendKind<NatsSpoolConfig> = {
  async open(config, spool, deps) {
    const { prefix, replicas } = spool
    const nc = await connectNats({ ...connectionOf(spool), name: 'hookcast-state' })
    // JetStream's duplicate window drops a repeated put across instances; ids of completed puts are also kept in
    // KV, since after a restart of nats-server JetStream only remembers the ids of messages still stored.
    const completed = natsDedupWindow({ nc, windowMs: spool.dedupWindow, bucket: `${prefix}-dedup`, replicas })
    const queue = await openNatsQueue({
      ...queueOptions(spool),
      completed,
      log: deps.log,
      now: deps.now,
    })
    const { maxStreams, keepEnded: keepEndedMs, maxThumbnailBytes } = config.streams
    const buckets = { bucket: `${prefix}-streams`, thumbnailBucket: `${prefix}-thumbnails` }
    const streams = await openNatsStreamStore({
      nc,
      ...deps,
      replicas,
      ...buckets,
      maxStreams,
      keepEndedMs,
      maxThumbnailBytes,
    })
    return {
      queue,
      streams,
      signingKey: natsSigningKeyStore({ nc, bucket: `${prefix}-keys`, replicas }),
      recent: await natsRecentEvents({ nc, prefix, replicas, log: deps.log, now: deps.now }),
      sessions: await sessionsOf(config, nc, prefix, replicas),
      where: spool.servers.join(', '),
      async problems() {
        // Both connections up: the queue's, and the state's (a flush answers once the server has it).
        const stateUp = await Promise.race([
          nc.flush().then(
            () => true,
            () => false,
          ),
          new Promise<boolean>((resolve) => setTimeout(resolve, 1_000, false)),
        ])
        return queue.connected() && stateUp ? [] : ['NATS is not reachable']
      },
      async close() {
        await queue.close()
        await streams.close()
        await nc.close()
      },
    }
  },

  check: checkNats,

  async replay(spool, filter, onProgress) {
    const queue = await openNatsQueue({ ...queueOptions(spool), sweepEveryMs: 0, log: silentLogger })
    return replayThrough(queue, filter, onProgress)
  },
  replayWaitsForGateway: false,
}

/**
 * The page's sessions, their buckets opened at start when the page is on: opened under a first burst of sign-ins,
 * every one of them would wait for the open, and a slow one would send them all to this instance's own count.
 */
async function sessionsOf(config: Config, nc: NatsConnection, prefix: string, replicas: number) {
  const sessions = natsSessionStore({ nc, prefix, replicas })
  if (config.admin.enabled) await sessions.open()
  return sessions
}

function connectionOf(spool: NatsSpoolConfig) {
  return { servers: spool.servers, ...(spool.auth ? { auth: spool.auth } : {}) }
}

function queueOptions(spool: NatsSpoolConfig): Omit<NatsQueueOptions, 'log'> {
  return {
    ...connectionOf(spool),
    prefix: spool.prefix,
    replicas: spool.replicas,
    dedupWindowMs: spool.dedupWindow,
    ackWaitMs: spool.ackWait,
    publishTimeoutMs: spool.publishTimeout,
    ...(spool.maxBytes !== undefined ? { maxBytes: spool.maxBytes } : {}),
  }
}

/** NATS must answer and run JetStream; its message size and JetStream's storage are reported. */
async function checkNats(_config: Config, spool: NatsSpoolConfig): Promise<BackendCheck> {
  const servers = spool.servers.join(', ')
  try {
    const report = await inspectNats({ ...connectionOf(spool), connectTimeoutMs: 3_000 })
    const problems: string[] = []
    if (!report.jetstream) {
      problems.push(`spool: JetStream is not usable on ${servers}: ${report.problem ?? 'start nats-server with -js'}`)
    }
    const jetstream = report.jetstream ? 'on' : 'OFF'
    const summary =
      `spool: NATS ${report.serverName} ${report.version}, JetStream ${jetstream}, ` +
      `max_payload ${report.maxPayload} (larger bodies in chunks)${storageText(report.storage)}`
    return { summary, problems }
  } catch (error) {
    return {
      summary: `spool: NATS ${servers}: NOT REACHABLE`,
      problems: [`spool: cannot connect to NATS at ${servers}: ${(error as Error).message}`],
    }
  }
}

/** JetStream's storage as `hookcast check` prints it. */
function storageText(storage: Awaited<ReturnType<typeof inspectNats>>['storage']): string {
  if (!storage) return ''
  const mb = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MB`
  const of = (used: number, limit: number) => `${mb(used)} used of ${limit < 0 ? 'no account limit' : mb(limit)}`
  const file = of(storage.fileUsed, storage.fileLimit)
  return `, JetStream file storage ${file}, memory ${of(storage.memoryUsed, storage.memoryLimit)}`
}
