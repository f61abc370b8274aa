/**
 * The embedded queue: events and their delivery state in a segment log under `dir`, dead letters as files under
 * `dir/dead`, replays from other processes (the CLI) as files dropped into `dir/inbox`. One process per directory
 * (a lock file); claims live in its memory, so a restart leaves every claimed delivery due.
 *
 * An event is on disk before `put` resolves (in the page cache, which survives a killed process; with `fsync`, on
 * the device, which survives power loss). Delivery state is appended as it changes, so a restart resumes every
 * pending delivery; one that succeeded just before a crash may be made again, which the sinks' deterministic keys
 * turn into an overwrite.
 * @module
 */
import { join } from 'node:path'
import type { Logger } from '../../log.ts'
import type { HookEvent } from '../../events/types.ts'
import { memoryDedupWindow, type DedupWindow } from '../../queue/dedup.ts'
import { ClaimBoard } from '../../queue/claim-board.ts'
import { dedupedPut } from '../../queue/deduped-put.ts'
import { loadedEvent, eventMeta } from '../../queue/loaded-event.ts'
import { QueueFullError, type Attempt, type Claim, type Queue, type QueueStats } from '../../queue/types.ts'
import { createCompaction } from './compaction.ts'
import { DeadLetterFiles } from './dead-letters.ts'
import { lockDir } from './dir-lock.ts'
import { EventIndex, type StoredEvent } from './event-index.ts'
import { appendEvent, appendState } from './event-records.ts'
import type { DeliveryState, LocalQueueContext } from './queue-context.ts'
import { recoverLog } from './recovery.ts'
import { drainInbox, replayDeadLetters } from './replays.ts'

export interface LocalQueueOptions {
  dir: string
  fsync: boolean
  /** Refuse new events (503) once the queue holds this many bytes (dead letters included). */
  maxBytes: number
  segmentBytes: number
  /** Bodies of pending events kept in memory up to this many bytes; the rest are read back from disk. */
  cacheBytes: number
  dedup?: DedupWindow
  log: Logger
  now?: () => number
  /** How often replays in the inbox are taken back and old segments compacted, ms (default 1 s). */
  maintenanceMs?: number
}

const MAINTENANCE_MS = 1000

export async function openLocalQueue(options: LocalQueueOptions): Promise<Queue> {
  const now = options.now ?? Date.now
  const { log } = options
  const dead = new DeadLetterFiles(options.dir)
  await dead.open()
  const lock = await lockDir(options.dir, {
    onWait: (pid) =>
      log.warn('queue directory is locked by another process; waiting for it to exit', { dir: options.dir, pid }),
  })

  const board = new ClaimBoard(now)
  const index = new EventIndex(options.cacheBytes, () => segments)
  const replayed = new Set<string>()
  const { fsync, segmentBytes } = options
  const segments = await recoverLog(
    { board, index, replayed, log },
    { dir: join(options.dir, 'segments'), fsync, segmentBytes, warn: log.warn },
  )
  const ctx: LocalQueueContext = {
    fsync,
    maxBytes: options.maxBytes,
    log,
    now,
    board,
    index,
    segments,
    dead,
    compaction: createCompaction(segments, index, (stored, body) => copyForward(ctx, stored, body)),
    replayed,
    inboxTurn: Promise.resolve(),
    closed: false,
  }
  await drainInbox(ctx)
  const maintenance = startMaintenance(ctx, options.maintenanceMs ?? MAINTENANCE_MS)
  const put = dedupedPut(options.dedup ?? memoryDedupWindow(0, now))

  return {
    put: (event, destinations, putOptions = {}) =>
      put(event.id, () => putEvent(ctx, event, destinations, putOptions.notBefore ?? 0)),
    claim: (claimOptions) => board.claimOrWait(claimOptions, () => ctx.closed),
    async load(claim) {
      board.check(claim)
      const stored = index.busy(claim.eventId, claim.destination)
      return loadedEvent(stored.meta, await index.bodyOf(stored))
    },
    async extend(claim, leaseMs) {
      board.extend(claim, leaseMs)
    },
    ack: (claim) => finish(ctx, claim, 'D'),
    retry: (claim, at, attempt) => retryClaim(ctx, claim, at, attempt),
    dead: (claim, attempts) => deadClaim(ctx, claim, attempts),
    deadLetters: (filter) => dead.list(filter),
    replay: (filter = {}) => replayDeadLetters(ctx, filter),
    stats: async () => queueStats(ctx),
    async close() {
      if (ctx.closed) return
      ctx.closed = true
      board.close()
      await maintenance.stop() // it may be appending (a replay, a straggler copied forward)
      await segments.close()
      await lock.release()
    },
  }
}

/**
 * Every second (`everyMs`), one run at a time: replays dropped into the inbox are taken back, the oldest segment's
 * stragglers copied forward, and segments nothing refers to deleted.
 */
function startMaintenance(ctx: LocalQueueContext, everyMs: number): { stop(): Promise<void> } {
  let running: Promise<void> | undefined
  const timer = setInterval(() => {
    if (running || ctx.closed) return
    running = (async () => {
      await drainInbox(ctx)
      await ctx.compaction.forwardStragglers(() => ctx.closed)
      await ctx.compaction.dropResolved()
    })()
      .catch((error) => ctx.log.error('queue maintenance failed', { error: String(error) }))
      .finally(() => {
        running = undefined
      })
  }, everyMs)
  ;(timer as { unref?: () => void }).unref?.()
  return {
    async stop() {
      clearInterval(timer)
      await running
    },
  }
}

async function putEvent(
  ctx: LocalQueueContext,
  event: HookEvent,
  destinations: readonly string[],
  notBefore: number,
): Promise<void> {
  if (ctx.closed) throw new QueueFullError('queue is closed')
  const deliveries: Record<string, DeliveryState> = {}
  for (const name of destinations) deliveries[name] = { since: event.receivedAt, attempts: [], nextAt: notBefore }
  await appendEvent(ctx, { ...eventMeta(event), deliveries }, event.body)
}

/** Writes a pending event again at the end of the log (compaction), with its deliveries' current state. */
async function copyForward(ctx: LocalQueueContext, stored: StoredEvent, body: Uint8Array): Promise<void> {
  const deliveries: Record<string, DeliveryState> = {}
  for (const destination of stored.pending) {
    const d = ctx.board.get(stored.meta.id, destination)
    // One whose end is being written must not come back with the copy (the copy may land after that end).
    if (d && !stored.finishing.has(destination))
      deliveries[destination] = { since: d.since, attempts: d.attempts, nextAt: d.nextAt }
  }
  if (Object.keys(deliveries).length > 0) await appendEvent(ctx, { ...stored.meta, deliveries }, body)
}

/** Ends a claim for good: the record first, then the index. */
async function finish(ctx: LocalQueueContext, claim: Claim, kind: 'D' | 'X'): Promise<void> {
  const { board, index } = ctx
  board.check(claim)
  const stored = index.events.get(claim.eventId)
  await stored?.copying
  stored?.finishing.add(claim.destination)
  try {
    await appendState(ctx, kind, { id: claim.eventId, destination: claim.destination })
  } finally {
    stored?.finishing.delete(claim.destination)
  }
  board.remove(claim)
  index.resolve(claim.eventId, claim.destination)
  await ctx.compaction.dropResolved()
}

async function retryClaim(ctx: LocalQueueContext, claim: Claim, at: number, attempt?: Attempt): Promise<void> {
  ctx.board.check(claim)
  await ctx.index.events.get(claim.eventId)?.copying
  await appendState(ctx, 'A', {
    id: claim.eventId,
    destination: claim.destination,
    ...(attempt ? { attempt } : {}),
    nextAt: at,
  })
  ctx.index.settle(claim.eventId, claim.destination)
  ctx.board.reschedule(claim, at, attempt)
}

async function deadClaim(ctx: LocalQueueContext, claim: Claim, attempts: Attempt[]): Promise<void> {
  ctx.board.check(claim)
  const stored = ctx.index.busy(claim.eventId, claim.destination)
  await ctx.dead.write(
    { ...stored.meta, destination: claim.destination, attempts, deadAt: ctx.now() },
    await ctx.index.bodyOf(stored),
    ctx.fsync,
  )
  await finish(ctx, claim, 'X')
}

function queueStats(ctx: LocalQueueContext): QueueStats {
  const destinations: Record<string, number> = Object.create(null)
  for (const delivery of ctx.board.deliveries())
    destinations[delivery.destination] = (destinations[delivery.destination] ?? 0) + 1
  const oldest = ctx.index.oldestReceivedAt()
  return {
    pendingEvents: ctx.index.events.size,
    pendingDeliveries: ctx.board.size,
    deadLetters: ctx.dead.count,
    bytes: ctx.segments.totalBytes() + ctx.dead.bytes,
    oldestPendingAgeMs: oldest === Infinity ? 0 : Math.max(0, ctx.now() - oldest),
    destinations,
  }
}
