/**
 * A queue in this process's memory: nothing survives a restart. For tests, and the reference every other
 * implementation is compared with (test/queue/contract.ts).
 * @module
 */
import type { HookEvent } from '../events/types.ts'
import { memoryDedupWindow, type DedupWindow } from './dedup.ts'
import { ClaimBoard } from './claim-board.ts'
import { dedupedPut } from './deduped-put.ts'
import { deadLetterOf, matchesFilter } from './dead-letter.ts'
import {
  QueueFullError,
  type Attempt,
  type Claim,
  type DeadLetter,
  type DeadLetterFilter,
  type Delivery,
  type Queue,
  type QueueStats,
} from './types.ts'

interface MemoryQueueOptions {
  dedup?: DedupWindow
  /** Refuse new events once the queue holds this many body bytes. */
  maxBytes?: number
  now?: () => number
}

/** An event kept until its last delivery ends, and how many are still pending. */
interface HeldEvent {
  event: HookEvent
  pending: number
}

interface MemoryQueueContext {
  now: () => number
  maxBytes: number | undefined
  board: ClaimBoard
  events: Map<string, HeldEvent>
  dead: Map<string, { letter: DeadLetter; event: HookEvent }>
  /** Body bytes of `events` (dead letters are counted when asked). */
  bytes: number
  closed: boolean
}

export function memoryQueue(options: MemoryQueueOptions = {}): Queue {
  const now = options.now ?? Date.now
  const put = dedupedPut(options.dedup ?? memoryDedupWindow(0, now))
  const board = new ClaimBoard(now)
  const ctx: MemoryQueueContext = {
    now,
    maxBytes: options.maxBytes,
    board,
    events: new Map(),
    dead: new Map(),
    bytes: 0,
    closed: false,
  }
  return {
    put: (event, destinations, putOptions = {}) =>
      put(event.id, async () => putEvent(ctx, event, destinations, putOptions.notBefore ?? 0)),
    claim: (claimOptions) => board.claimOrWait(claimOptions, () => ctx.closed),
    async load(claim) {
      board.check(claim)
      return ctx.events.get(claim.eventId)!.event
    },
    async extend(claim, leaseMs) {
      board.extend(claim, leaseMs)
    },
    async ack(claim) {
      board.remove(claim)
      release(ctx, claim.eventId)
    },
    async retry(claim, at, attempt) {
      board.reschedule(claim, at, attempt)
    },
    dead: async (claim, attempts) => deadClaim(ctx, claim, attempts),
    deadLetters: async (filter = {}) => listDeadLetters(ctx, filter),
    replay: async (filter = {}) => replayDeadLetters(ctx, filter),
    stats: async () => memoryStats(ctx),
    async close() {
      ctx.closed = true
      board.close()
    },
  }
}

function putEvent(ctx: MemoryQueueContext, event: HookEvent, destinations: readonly string[], nextAt: number): void {
  if (ctx.closed) throw new QueueFullError('queue is closed')
  if (ctx.maxBytes !== undefined && ctx.bytes + event.body.byteLength > ctx.maxBytes) {
    throw new QueueFullError(`queue is full (${ctx.maxBytes} bytes)`)
  }
  const held = hold(ctx, event)
  for (const destination of destinations) {
    const since = event.receivedAt
    addDelivery(ctx, held, {
      eventId: event.id,
      destination,
      receivedAt: event.receivedAt,
      since,
      attempts: [],
      nextAt,
    })
  }
}

/** The event's entry, made when it has none (a new event, or a dead letter's event replayed). */
function hold(ctx: MemoryQueueContext, event: HookEvent): HeldEvent {
  let held = ctx.events.get(event.id)
  if (!held) {
    ctx.events.set(event.id, (held = { event, pending: 0 }))
    ctx.bytes += event.body.byteLength
  }
  return held
}

/** Adds a delivery the board does not have yet (a destination put twice counts once). */
function addDelivery(ctx: MemoryQueueContext, held: HeldEvent, delivery: Delivery): void {
  if (ctx.board.add(delivery)) held.pending++
}

/** One delivery of the event ended: the event goes with its last. */
function release(ctx: MemoryQueueContext, eventId: string): void {
  const held = ctx.events.get(eventId)
  if (!held || --held.pending > 0) return
  ctx.events.delete(eventId)
  ctx.bytes -= held.event.body.byteLength
}

function deadClaim(ctx: MemoryQueueContext, claim: Claim, attempts: Attempt[]): void {
  const delivery = ctx.board.remove(claim)
  const event = ctx.events.get(claim.eventId)!.event
  ctx.dead.set(`${claim.eventId}.${claim.destination}`, {
    letter: deadLetterOf(event, { ...delivery, attempts }, ctx.now()),
    event,
  })
  release(ctx, claim.eventId)
}

function listDeadLetters(ctx: MemoryQueueContext, filter: DeadLetterFilter): DeadLetter[] {
  return [...ctx.dead.values()]
    .map((d) => d.letter)
    .filter((letter) => matchesFilter(letter, filter))
    .sort((a, b) => a.deadAt - b.deadAt)
}

function replayDeadLetters(ctx: MemoryQueueContext, filter: DeadLetterFilter): number {
  let count = 0
  for (const [name, { letter, event }] of ctx.dead) {
    if (!matchesFilter(letter, filter)) continue
    ctx.dead.delete(name)
    const held = hold(ctx, event)
    const { destination } = letter
    addDelivery(ctx, held, {
      eventId: event.id,
      destination,
      receivedAt: event.receivedAt,
      since: ctx.now(),
      attempts: [],
      nextAt: 0,
    })
    count++
  }
  return count
}

function memoryStats(ctx: MemoryQueueContext): QueueStats {
  const destinations: Record<string, number> = Object.create(null)
  let oldest = Infinity
  for (const delivery of ctx.board.deliveries()) {
    destinations[delivery.destination] = (destinations[delivery.destination] ?? 0) + 1
    oldest = Math.min(oldest, delivery.receivedAt)
  }
  let deadBytes = 0
  for (const { event } of ctx.dead.values()) deadBytes += event.body.byteLength
  return {
    pendingEvents: ctx.events.size,
    pendingDeliveries: ctx.board.size,
    deadLetters: ctx.dead.size,
    bytes: ctx.bytes + deadBytes,
    oldestPendingAgeMs: oldest === Infinity ? 0 : Math.max(0, ctx.now() - oldest),
    destinations,
  }
}
