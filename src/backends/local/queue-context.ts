/**
 * What the local queue's steps share: its settings, the claims, the index of pending events, the segment log and
 * the dead letters; and how an event and its deliveries are written in the log.
 * @module
 */
import type { Logger } from '../../log.ts'
import type { ClaimBoard } from '../../queue/claim-board.ts'
import type { EventMeta } from '../../queue/loaded-event.ts'
import type { Attempt } from '../../queue/types.ts'
import type { Compaction } from './compaction.ts'
import type { DeadLetterFiles } from './dead-letters.ts'
import type { EventIndex } from './event-index.ts'
import type { SegmentLog } from './segment-log.ts'

export interface LocalQueueContext {
  fsync: boolean
  /** Bytes the log and the dead letters may hold together. */
  maxBytes: number
  log: Logger
  now: () => number
  board: ClaimBoard
  index: EventIndex
  segments: SegmentLog
  dead: DeadLetterFiles
  compaction: Compaction
  /**
   * Inbox files whose replay is in the log already: their file is removed, not replayed again (a crash, or a failed
   * removal, left it behind).
   */
  replayed: Set<string>
  /**
   * The end of the inbox work under way (a replay, or the maintenance's drain): the next waits for it, so the two never
   * take the same file at once (that replayed it twice, and the second read failed on the file the first removed).
   */
  inboxTurn: Promise<unknown>
  /** Set once, by `close`. */
  closed: boolean
}

export interface DeliveryState {
  since: number
  attempts: Attempt[]
  nextAt: number
}

/** Header of an E record: the event, and the state of each delivery still pending for it. */
export interface EventHeader extends EventMeta {
  deliveries: Record<string, DeliveryState>
  /** Name of the inbox file this record replays, so a crash before the file is removed does not replay twice. */
  replay?: string
}
