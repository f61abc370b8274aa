/**
 * The S3 backend, for serverless functions: everything in one bucket under a prefix, changed by conditional writes,
 * since no process outlives an invocation and two may overlap.
 * @module
 */
import type { Config } from '../../config/config-schema.ts'
import type { S3SpoolConfig } from '../../config/backend.ts'
import { silentLogger, type Logger } from '../../log.ts'
import { createRecentEvents } from '../../activity/recent-events.ts'
import { replayThrough, type BackendCheck, type BackendKind } from '../types.ts'
import { openS3Queue, type S3Queue } from './queue.ts'
import { openS3StreamStore } from './stream-store.ts'
import { s3SigningKeyStore } from './signing-key.ts'
import { s3SessionStore } from './session-store.ts'

export const s3Backend: BackendKind<S3SpoolConfig> = {
  async open(config, spool, deps) {
    const queue = await openQueue(spool, deps.log, deps.now)
    const { type: _type, dedupWindow: _window, ...where } = spool
    // maxThumbnailBytes does not apply: S3 has no cheap byte count; thumbnails are bounded per stream instead.
    const { maxStreams, keepEnded: keepEndedMs } = config.streams
    const streams = openS3StreamStore({ ...where, ...deps, maxStreams, keepEndedMs })
    return {
      queue,
      streams,
      signingKey: s3SigningKeyStore(where),
      recent: createRecentEvents(500, deps.now),
      sessions: s3SessionStore(where),
      where: `s3://${spool.bucket}/${spool.prefix}`,
      async problems() {
        const support = await queue.probe().catch((error: Error) => error)
        if (support instanceof Error) return [`bucket ${spool.bucket} not reachable: ${support.message}`]
        return Object.values(support).every(Boolean)
          ? []
          : [`bucket ${spool.bucket} does not honour conditional writes`]
      },
      async close() {
        await queue.close()
        await streams.close()
      },
    }
  },

  check: checkS3,

  async replay(spool, filter, onProgress) {
    return replayThrough(await openQueue(spool, silentLogger), filter, onProgress)
  },
  replayWaitsForGateway: false,
}

/** No background sweeps: a function is frozen after it answers (the scheduled run sweeps instead). */
function openQueue(spool: S3SpoolConfig, log: Logger, now?: () => number): Promise<S3Queue> {
  const { type: _type, dedupWindow, ...where } = spool
  return openS3Queue({ ...where, dedupWindowMs: dedupWindow, sweepEveryMs: 0, log, ...(now ? { now } : {}) })
}

/** The bucket must answer and honour conditional writes. */
async function checkS3(_config: Config, spool: S3SpoolConfig): Promise<BackendCheck> {
  const queue = await openQueue(spool, silentLogger)
  try {
    const support = await queue.probe()
    const yesNo = (ok: boolean) => (ok ? 'yes' : 'NO')
    const summary =
      `spool: s3://${spool.bucket}/${spool.prefix}/: conditional create ${yesNo(support.createIfAbsent)}, ` +
      `replace ${yesNo(support.replaceIfMatch)}, delete ${yesNo(support.deleteIfMatch)}`
    const problems = Object.values(support).every(Boolean)
      ? []
      : [
          `spool: bucket ${spool.bucket} does not honour conditional writes (If-None-Match / If-Match): ` +
            'two invocations could deliver one event twice',
        ]
    return { summary, problems }
  } catch (error) {
    return {
      summary: `spool: s3://${spool.bucket}: NOT REACHABLE`,
      problems: [`spool: cannot use s3://${spool.bucket}: ${(error as Error).message}`],
    }
  } finally {
    await queue.close()
  }
}
