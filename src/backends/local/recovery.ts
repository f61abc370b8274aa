/**
 * The local queue's start: the segment log is read from its oldest record to its newest, rebuilding the index of
 * pending events and the state of each pending delivery, which then waits on the claim board.
 * @module
 */
import type { Attempt, Delivery } from '../../queue/types.ts'
import type { EventHeader, LocalQueueContext } from './queue-context.ts'
import { placeEvent } from './event-records.ts'
import { openSegmentLog, type ScannedRecord, type SegmentLog, type SegmentLogOptions } from './segment-log.ts'

type Recovering = Pick<LocalQueueContext, 'board' | 'index' | 'replayed' | 'log'>

/** Opens the segment log and recovers every pending delivery in it. */
export async function recoverLog(queue: Recovering, options: SegmentLogOptions): Promise<SegmentLog> {
  const scanned = new Map<string, Delivery>() // delivery state as the records change it
  const segments = await openSegmentLog(options, (record) => applyRecord(queue, scanned, record))
  for (const delivery of scanned.values()) queue.board.add(delivery)
  if (scanned.size > 0)
    queue.log.info('queue recovered pending deliveries', { deliveries: scanned.size, events: queue.index.events.size })
  return segments
}

const keyOf = (eventId: string, destination: string) => `${eventId}\u0000${destination}`

function applyRecord(queue: Recovering, scanned: Map<string, Delivery>, record: ScannedRecord): void {
  const header = record.header as Record<string, unknown>
  const id = header.id as string
  if (record.kind === 'E') {
    for (const delivery of placeEvent(
      queue,
      header as unknown as EventHeader,
      record.ref.segment,
      record.bodyOffset,
      record.bodyLength,
    )) {
      scanned.set(keyOf(delivery.eventId, delivery.destination), delivery)
    }
  } else if (record.kind === 'D' || record.kind === 'X') {
    queue.index.resolve(id, header.destination as string)
    scanned.delete(keyOf(id, header.destination as string))
  } else if (record.kind === 'A') {
    const delivery = scanned.get(keyOf(id, header.destination as string))
    if (delivery) {
      if (header.attempt) delivery.attempts.push(header.attempt as Attempt) // absent for a deferral
      delivery.nextAt = header.nextAt as number
    }
  }
}
