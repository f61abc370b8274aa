/**
 * The local backend, the embedded default: everything in directories of one process (the spool's lock keeps a
 * second one out).
 * @module
 */
import { mkdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { Config } from '../../config/config-schema.ts'
import type { LocalSpoolConfig } from '../../config/backend.ts'
import { memoryDedupWindow } from '../../queue/dedup.ts'
import { probeWritable } from '../../util/probe.ts'
import { createRecentEvents } from '../../activity/recent-events.ts'
import { memorySessionStore } from '../../admin/memory-session-store.ts'
import type { BackendKind } from '../types.ts'
import { openLocalQueue } from './queue.ts'
import { openLocalStreamStore } from './stream-store.ts'
import { localSigningKeyStore } from './signing-key.ts'
import { queueLocalReplay } from './dead-letters.ts'

export const localBackend: BackendKind<LocalSpoolConfig> = {
  async open(config, spool, deps) {
    const streamsDir = streamsDirOf(config, spool)
    const dedup = memoryDedupWindow(spool.dedupWindow, deps.now)
    const queue = await openLocalQueue({ ...spool, dedup, log: deps.log, now: deps.now })
    const { maxStreams, keepEnded: keepEndedMs, maxThumbnailBytes } = config.streams
    const streams = await openLocalStreamStore({ dir: streamsDir, ...deps, maxStreams, keepEndedMs, maxThumbnailBytes })
    return {
      queue,
      streams,
      signingKey: localSigningKeyStore(streamsDir),
      recent: createRecentEvents(500, deps.now),
      // One process owns the spool: nobody to share sessions with.
      sessions: memorySessionStore(),
      where: spool.dir,
      async problems() {
        const problem = await probeWritable(spool.dir)
        return problem ? [`spool not writable: ${problem}`] : []
      },
      async close() {
        await queue.close()
        await streams.close()
      },
    }
  },

  async check(_config, spool) {
    const problem = await mkdir(spool.dir, { recursive: true }).then(
      () => probeWritable(spool.dir),
      (error: Error) => error.message,
    )
    const state = `${problem ? 'NOT WRITABLE' : 'writable'}${spool.fsync ? ', fsync on' : ''}`
    const summary = `spool ${resolve(spool.dir)}: ${state}`
    return { summary, problems: problem ? [`spool ${spool.dir}: ${problem}`] : [] }
  },

  // The queue belongs to the running gateway: dead letters are dropped into its inbox, which the gateway takes
  // within a second, or the next one to start does.
  replay: (spool, filter, onProgress) => queueLocalReplay(spool.dir, filter, onProgress),
  replayWaitsForGateway: true,
}

function streamsDirOf(config: Config, spool: LocalSpoolConfig): string {
  return config.streams.dir ?? join(spool.dir, 'streams')
}
