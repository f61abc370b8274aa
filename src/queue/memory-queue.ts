/**
 * A queue in this process's memory: nothing survives a restart. For tests, and the reference every other
 * implementation is compared with (test/queue/contract.ts).
 * @module
 */
import type { HookEvent } from '../events/types.ts'
import { memoryDedupWindow, type DedupWindow } from './dedup.ts'
import { ClaimBoard } from './board.ts'
import { dedupedPut } from './deduped-put.ts'
import { deadLetterOf, matchesFilter } from './dead-letter.ts'
import { QueueFullError, type DeadLetter, type Queue } from './types.ts'

export interface MemoryQueueOptions {
  dedup?: DedupWindow
  /** Refuse new events once the queue holds this many body bytes. */
  maxBytes?: number
  now?: () => number
}

export function memoryQueue(options: MemoryQueueOptions = {}): Queue {
  const now = options.now ?? Date.now
  const dedup = options.dedup ?? memoryDedupWindow(0, now)
  const board = new ClaimBoard(now)
  const events = new Map<string, { event: HookEvent; pending: number }>()
  const dead = new Map<string, { letter: DeadLetter; event: HookEvent }>()
  const put = dedupedPut(dedup)
  let bytes = 0
  let closed = false

  const release = (eventId: string) => {
    const held = events.get(eventId)
    if (!held || --held.pending > 0) return
    events.delete(eventId)
    bytes -= held.event.body.byteLength
  }

  return {
    put: (event, destinations, putOptions = {}) =>
      put(event.id, async () => {
        if (closed) throw new QueueFullError('queue is closed')
        if (options.maxBytes !== undefined && bytes + event.body.byteLength > options.maxBytes) {
          throw new QueueFullError(`queue is full (${options.maxBytes} bytes)`)
        }
        let held = events.get(event.id)
        if (!held) {
          events.set(event.id, (held = { event, pending: 0 }))
          bytes += event.body.byteLength
        }
        for (const destination of destinations) {
          const nextAt = putOptions.notBefore ?? 0
          if (
            board.add({
              eventId: event.id,
              destination,
              receivedAt: event.receivedAt,
              since: event.receivedAt,
              attempts: [],
              nextAt,
            })
          )
            held.pending++
        }
      }),
    claim: (options) => board.claimOrWait(options, () => closed),
    async load(claim) {
      board.check(claim)
      return events.get(claim.eventId)!.event
    },
    async extend(claim, leaseMs) {
      board.extend(claim, leaseMs)
    },
    async ack(claim) {
      board.remove(claim)
      release(claim.eventId)
    },
    async retry(claim, at, attempt) {
      board.reschedule(claim, at, attempt)
    },
    async dead(claim, attempts) {
      const delivery = board.remove(claim)
      const event = events.get(claim.eventId)!.event
      dead.set(`${claim.eventId}.${claim.destination}`, {
        letter: deadLetterOf(event, { ...delivery, attempts }, now()),
        event,
      })
      release(claim.eventId)
    },
    async deadLetters(filter = {}) {
      return [...dead.values()]
        .map((d) => d.letter)
        .filter((letter) => matchesFilter(letter, filter))
        .sort((a, b) => a.deadAt - b.deadAt)
    },
    async replay(filter = {}) {
      let count = 0
      for (const [name, { letter, event }] of dead) {
        if (!matchesFilter(letter, filter)) continue
        dead.delete(name)
        let held = events.get(event.id)
        if (!held) {
          events.set(event.id, (held = { event, pending: 0 }))
          bytes += event.body.byteLength
        }
        if (
          board.add({
            eventId: event.id,
            destination: letter.destination,
            receivedAt: event.receivedAt,
            since: now(),
            attempts: [],
            nextAt: 0,
          })
        )
          held.pending++
        count++
      }
      return count
    },
    async stats() {
      const destinations: Record<string, number> = Object.create(null)
      let oldest = Infinity
      for (const delivery of board.deliveries()) {
        destinations[delivery.destination] = (destinations[delivery.destination] ?? 0) + 1
        oldest = Math.min(oldest, delivery.receivedAt)
      }
      let deadBytes = 0
      for (const { event } of dead.values()) deadBytes += event.body.byteLength
      return {
        pendingEvents: events.size,
        pendingDeliveries: board.size,
        deadLetters: dead.size,
        bytes: bytes + deadBytes,
        oldestPendingAgeMs: oldest === Infinity ? 0 : Math.max(0, now() - oldest),
        destinations,
      }
    },
    async close() {
      closed = true
      board.close()
    },
  }
}
