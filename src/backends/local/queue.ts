/**
 * The embedded queue: events and their delivery state in a segment log under `dir`, dead letters as files under
 * `dir/dead`, replays queued by other processes (the CLI) as files dropped into `dir/inbox`. One process per
 * directory (a lock file); claims live in that process's memory, so a restart leaves every claimed delivery due.
 *
 * Guarantees: an event is on disk before `put` resolves (in the page cache, so it survives a killed process; with
 * `fsync`, on the device, so it survives power loss). Delivery state is appended as it changes, so a restart
 * resumes every pending delivery; a delivery that succeeded just before a crash may be made once more
 * (at-least-once), which the sinks' deterministic keys turn into an overwrite.
 * @module
 */
import { join } from 'node:path'
import type { Logger } from '../../log.ts'
import { memoryDedupWindow, type DedupWindow } from '../../queue/dedup.ts'
import { ClaimBoard } from '../../queue/board.ts'
import { dedupedPut } from '../../queue/deduped-put.ts'
import { loadedEvent, type EventMeta, eventMeta } from '../../queue/loaded-event.ts'
import { QueueFullError, type Attempt, type Claim, type Delivery, type Queue } from '../../queue/types.ts'
import { createCompaction } from './compaction.ts'
import { DeadLetterFiles } from './dead-letters.ts'
import { lockDir } from './dir-lock.ts'
import { EventIndex, type StoredEvent } from './event-index.ts'
import { encodeRecord } from './log-record.ts'
import { openSegmentLog, type ScannedRecord } from './segment-log.ts'

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
}

interface DeliveryState {
  since: number
  attempts: Attempt[]
  nextAt: number
}

/** Header of an E record: the event, and the state of each delivery still pending for it. */
interface EventHeader extends EventMeta {
  deliveries: Record<string, DeliveryState>
  /** Name of the inbox file this record replays, so a crash before the file is removed does not replay twice. */
  replay?: string
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
  const index = new EventIndex(options.cacheBytes, () => segmentLog)
  const replayed = new Set<string>()
  const scanned = new Map<string, Delivery>() // delivery state while the log is read at start
  const put = dedupedPut(options.dedup ?? memoryDedupWindow(0, now))
  let closed = false

  const keyOf = (eventId: string, destination: string) => `${eventId}\u0000${destination}`

  /** Adds an E record's event (or the same event written again); returns its new deliveries. */
  function place(
    header: EventHeader,
    segment: number,
    bodyOffset: number,
    bodyLength: number,
    body?: Uint8Array,
  ): Delivery[] {
    const { deliveries, replay, ...meta } = header
    if (replay) replayed.add(replay)
    const stored = index.place(meta, segment, bodyOffset, bodyLength, body)
    const added: Delivery[] = []
    for (const [destination, state] of Object.entries(deliveries)) {
      if (stored.pending.has(destination)) continue
      stored.pending.add(destination)
      added.push({
        eventId: meta.id,
        destination,
        receivedAt: meta.receivedAt,
        since: state.since,
        attempts: state.attempts,
        nextAt: state.nextAt,
      })
    }
    return added
  }

  function onRecord(record: ScannedRecord): void {
    const header = record.header as Record<string, unknown>
    const id = header.id as string
    if (record.kind === 'E') {
      for (const delivery of place(
        header as unknown as EventHeader,
        record.ref.segment,
        record.bodyOffset,
        record.bodyLength,
      )) {
        scanned.set(keyOf(delivery.eventId, delivery.destination), delivery)
      }
    } else if (record.kind === 'D' || record.kind === 'X') {
      index.resolve(id, header.destination as string)
      scanned.delete(keyOf(id, header.destination as string))
    } else if (record.kind === 'A') {
      const delivery = scanned.get(keyOf(id, header.destination as string))
      if (delivery) {
        if (header.attempt) delivery.attempts.push(header.attempt as Attempt) // absent for a deferral
        delivery.nextAt = header.nextAt as number
      }
    }
  }

  const segmentLog = await openSegmentLog(
    { dir: join(options.dir, 'segments'), fsync: options.fsync, segmentBytes: options.segmentBytes, warn: log.warn },
    onRecord,
  )
  for (const delivery of scanned.values()) board.add(delivery)
  if (scanned.size > 0)
    log.info('queue recovered pending deliveries', { deliveries: scanned.size, events: index.events.size })
  scanned.clear()

  async function appendEvent(header: EventHeader, body: Uint8Array): Promise<Delivery[]> {
    const parts = encodeRecord('E', header, body)
    const size = parts.reduce((n, p) => n + p.byteLength, 0)
    // Dead letters count too: they wait on the same disk until someone replays or removes them.
    if (segmentLog.totalBytes() + dead.bytes + size > options.maxBytes) {
      throw new QueueFullError(`queue is full (spool.maxBytes = ${options.maxBytes})`)
    }
    let ref: Awaited<ReturnType<typeof segmentLog.append>>
    try {
      ref = await segmentLog.append(parts)
    } catch (error) {
      log.error('queue write failed', { error: String((error as Error).message ?? error) })
      throw new QueueFullError(`queue write failed: ${(error as Error).message}`)
    }
    const added = place(header, ref.segment, ref.offset + parts[0]!.byteLength, body.byteLength, body)
    for (const delivery of added) board.add(delivery)
    return added
  }

  async function appendState(kind: 'D' | 'A' | 'X', header: Record<string, unknown>): Promise<void> {
    // Delivered and failed-attempt records are not synced on their own (they ride along with the next sync):
    // losing one with the page cache only makes a delivery again. A move to the dead letters is synced.
    await segmentLog.append(encodeRecord(kind, header), kind === 'X')
  }

  const compaction = createCompaction(segmentLog, index, async (stored: StoredEvent, body: Uint8Array) => {
    const deliveries: Record<string, DeliveryState> = {}
    for (const destination of stored.pending) {
      const d = board.get(stored.meta.id, destination)
      // One whose end is being written must not come back with the copy (the copy may land after that end).
      if (d && !stored.finishing.has(destination))
        deliveries[destination] = { since: d.since, attempts: d.attempts, nextAt: d.nextAt }
    }
    if (Object.keys(deliveries).length > 0) await appendEvent({ ...stored.meta, deliveries }, body)
  })

  /**
   * Takes one replayed dead letter back from the inbox. A name already recorded in the log is a replay appended
   * before a crash whose file was left behind.
   */
  async function pickUp(name: string): Promise<number> {
    if (replayed.has(name)) {
      await dead.removeInbox(name)
      replayed.delete(name)
      return 0
    }
    const whole = await dead.readInbox(name)
    if (!whole) {
      log.error('unreadable replay file; moved aside', { file: name })
      return 0
    }
    const { destination, attempts: _attempts, deadAt: _deadAt, ...meta } = whole.header
    await appendEvent(
      { ...meta, deliveries: { [destination]: { since: now(), attempts: [], nextAt: 0 } }, replay: name },
      whole.body,
    )
    await dead.removeInbox(name)
    replayed.delete(name)
    return 1
  }

  async function drainInbox(): Promise<number> {
    let count = 0
    const names = await dead.inbox()
    // The CLI moved these out of the dead letters: the index says so before the deliveries show up again.
    if (names.length > 0) await dead.refresh()
    for (const name of names) {
      count += await pickUp(name).catch((error) => {
        log.error('replay failed', { file: name, error: String(error) })
        return 0
      })
    }
    return count
  }

  await drainInbox()

  let maintaining: Promise<void> | undefined
  const timer = setInterval(() => {
    if (maintaining || closed) return
    maintaining = (async () => {
      await drainInbox()
      await compaction.forwardStragglers(() => closed)
      await compaction.dropResolved()
    })()
      .catch((error) => log.error('queue maintenance failed', { error: String(error) }))
      .finally(() => {
        maintaining = undefined
      })
  }, MAINTENANCE_MS)
  ;(timer as { unref?: () => void }).unref?.()

  /** Ends a claim for good: the record first, then the index. */
  async function finish(claim: Claim, kind: 'D' | 'X'): Promise<void> {
    board.check(claim)
    const stored = index.events.get(claim.eventId)
    await stored?.copying
    stored?.finishing.add(claim.destination)
    try {
      await appendState(kind, { id: claim.eventId, destination: claim.destination })
    } finally {
      stored?.finishing.delete(claim.destination)
    }
    board.remove(claim)
    index.resolve(claim.eventId, claim.destination)
    await compaction.dropResolved()
  }

  return {
    put: (event, destinations, putOptions = {}) =>
      put(event.id, async () => {
        if (closed) throw new QueueFullError('queue is closed')
        const deliveries: Record<string, DeliveryState> = {}
        for (const name of destinations)
          deliveries[name] = { since: event.receivedAt, attempts: [], nextAt: putOptions.notBefore ?? 0 }
        await appendEvent({ ...eventMeta(event), deliveries }, event.body)
      }),
    claim: (options) => board.claimOrWait(options, () => closed),
    async load(claim) {
      board.check(claim)
      const stored = index.busy(claim.eventId, claim.destination)
      return loadedEvent(stored.meta, await index.bodyOf(stored))
    },
    async extend(claim, leaseMs) {
      board.extend(claim, leaseMs)
    },
    async ack(claim) {
      await finish(claim, 'D')
    },
    async retry(claim, at, attempt) {
      board.check(claim)
      await index.events.get(claim.eventId)?.copying
      await appendState('A', {
        id: claim.eventId,
        destination: claim.destination,
        ...(attempt ? { attempt } : {}),
        nextAt: at,
      })
      index.settle(claim.eventId, claim.destination)
      board.reschedule(claim, at, attempt)
    },
    async dead(claim, attempts) {
      board.check(claim)
      const stored = index.busy(claim.eventId, claim.destination)
      await dead.write(
        { ...stored.meta, destination: claim.destination, attempts, deadAt: now() },
        await index.bodyOf(stored),
        options.fsync,
      )
      await finish(claim, 'X')
    },
    deadLetters: (filter) => dead.list(filter),
    async replay(filter = {}) {
      let count = 0
      for (const name of await dead.queue(filter)) count += await pickUp(name)
      return count
    },
    async stats() {
      const destinations: Record<string, number> = Object.create(null)
      for (const delivery of board.deliveries())
        destinations[delivery.destination] = (destinations[delivery.destination] ?? 0) + 1
      const oldest = index.oldestReceivedAt()
      return {
        pendingEvents: index.events.size,
        pendingDeliveries: board.size,
        deadLetters: dead.count,
        bytes: segmentLog.totalBytes() + dead.bytes,
        oldestPendingAgeMs: oldest === Infinity ? 0 : Math.max(0, now() - oldest),
        destinations,
      }
    },
    async close() {
      if (closed) return
      closed = true
      clearInterval(timer)
      board.close()
      await maintaining // it may be appending (a replay, a straggler copied forward)
      await segmentLog.close()
      await lock.release()
    },
  }
}
