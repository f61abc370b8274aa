/**
 * The serverless queue: everything in one S3 bucket under a prefix and nothing kept between calls but a cache, so it
 * works from AWS Lambda, where nothing runs after the answer and two invocations may overlap. Every change is one
 * conditional request on one key, so S3 decides every race; a store that ignores the conditions loses that guarantee,
 * and `probe()` tells (`hookcast check`). Leases are times written by the claimer's clock and read by the others'
 * (Lambda clocks are NTP-synced): keep them far longer than any skew.
 * @module
 */
import type { Logger } from '../../log.ts'
import { probeConditionalRequests, s3Objects, type ConditionalSupport } from './objects.ts'
import type { S3Connection } from '../../sinks/s3-client.ts'
import type { Queue } from '../../queue/types.ts'
import { s3Claims, waitingRoom } from './claims.ts'
import { release, type S3Context } from './queue-context.ts'
import { listDeadLetters, replayDeadLetters } from './dead-letters.ts'
import { s3HeldClaims } from './held-claims.ts'
import { s3QueueKeys } from './queue-keys.ts'
import { s3Put } from './put.ts'
import { s3QueueStats } from './queue-stats.ts'
import { s3QueueSweeper, type S3QueueSweepResult } from './queue-sweep.ts'

export interface S3QueueOptions extends S3Connection {
  /** Every key starts with `<prefix>/`. Default `hookcast`. */
  prefix?: string
  /** A put of an event id put within this window is dropped (`{ duplicate: true }`); 0: no window. */
  dedupWindowMs: number
  /** How often a waiting claim looks for deliveries put by other processes, ms. Default 1 s. */
  pollMs?: number
  /** Event copies no delivery refers to (a put that died half-way) are removed once this old, ms. Default 10 min. */
  orphanAgeMs?: number
  /** How often a claim starts a sweep (orphan copies, expired dedup markers), ms; 0: only `sweep()`. Default 10 min. */
  sweepEveryMs?: number
  /** Requests at once while reading many objects. Default 16. */
  concurrency?: number
  log: Logger
  now?: () => number
}

export interface S3Queue extends Queue {
  /** Removes orphan event copies and expired dedup markers now (a scheduled run may call it). */
  sweep(): Promise<S3QueueSweepResult>
  /** Whether the bucket honours the conditional requests the queue relies on. */
  probe(): Promise<ConditionalSupport>
}

export async function openS3Queue(options: S3QueueOptions): Promise<S3Queue> {
  const state = { closed: false }
  const room = waitingRoom(state)
  const ctx: S3Context = {
    keys: s3QueueKeys(options.prefix),
    objects: s3Objects(options),
    log: options.log,
    now: options.now ?? Date.now,
    concurrency: Math.max(1, options.concurrency ?? 16),
    windowMs: Math.max(0, options.dedupWindowMs),
    cache: new Map(),
    held: new Map(),
    heldKeys: new Map(),
    state,
    wake: room.wake,
  }
  const sweeper = s3QueueSweeper(ctx, {
    orphanAgeMs: options.orphanAgeMs ?? 10 * 60_000,
    sweepEveryMs: options.sweepEveryMs ?? 10 * 60_000,
  })

  return {
    put: s3Put(ctx),
    claim: s3Claims(ctx, {
      pollMs: Math.max(10, options.pollMs ?? 1_000),
      nap: room.nap,
      beforeClaim: sweeper.maybeSweep,
    }),
    ...s3HeldClaims(ctx),
    deadLetters: (filter = {}) => listDeadLetters(ctx, filter),
    replay: (filter = {}) => replayDeadLetters(ctx, filter),
    stats: () => s3QueueStats(ctx),
    sweep: sweeper.sweep,
    probe: () => probeConditionalRequests(ctx.objects, ctx.keys.root),

    async close() {
      if (state.closed) return
      state.closed = true
      room.wake()
      // Claims do not outlive the queue: given back now rather than when their lease runs out.
      await Promise.all([...ctx.held.keys()].map((token) => release(ctx, token)))
      await sweeper.running()?.catch(() => {})
      ctx.objects.close()
    },
  }
}
