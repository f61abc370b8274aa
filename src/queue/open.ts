/**
 * The queue a config names (`spool:`), for the gateway and for the CLI. Only the local queue exists today; a
 * shared one is added here, and nothing that uses a queue changes.
 * @module
 */
import type { SpoolConfig } from '../config/schema.ts'
import type { Logger } from '../log.ts'
import { memoryDedupWindow } from '../state/dedup.ts'
import { queueLocalReplay } from './local/dead-letters.ts'
import { openLocalQueue } from './local/local-queue.ts'
import type { DeadLetterFilter, Queue } from './types.ts'

export function openQueue(config: SpoolConfig, deps: { log: Logger; now: () => number }): Promise<Queue> {
  return openLocalQueue({ ...config, dedup: memoryDedupWindow(config.dedupWindow, deps.now), ...deps })
}

/**
 * Replays dead letters from another process than the gateway's (the CLI). The local queue belongs to the running
 * gateway, so its dead letters are dropped into its inbox: the gateway takes them within a second, or the next
 * one to start does. Returns how many.
 */
export function replayFromOutside(config: SpoolConfig, filter: DeadLetterFilter, onProgress?: (done: number, total: number) => void): Promise<number> {
  return queueLocalReplay(config.dir, filter, onProgress)
}
