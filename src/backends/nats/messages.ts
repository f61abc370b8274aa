/**
 * What the NATS queue's messages carry: an event's metadata (a header beside its body), a delivery's state (the
 * small JSON payload of a delivery message) and a dead letter's outcome (a header beside the event's body).
 *
 * Header values are single-line ASCII JSON: characters outside ASCII are written as `\uXXXX`, so a stream name in
 * any script survives NATS's header encoding.
 * @module
 */
import { headers, type MsgHdrs } from '@nats-io/transport-node'
import type { Attempt } from '../../queue/types.ts'
import type { EventMeta } from '../../queue/loaded-event.ts'
import { decodeDeliveryState, encodeDeliveryState, type StoredDelivery } from '../../queue/delivery-state.ts'

/** A delivery as stored in the deliveries JetStream stream. */
export interface DeliveryRecord extends StoredDelivery {
  /** Sequence of the event's copy in the events JetStream stream. */
  eventSeq: number
}

interface DeadRecord {
  destination: string
  deadAt: number
  attempts: Attempt[]
}

const EVENT_HEADER = 'Hookcast-Event'
const DEAD_HEADER = 'Hookcast-Dead'
/** On an event's copy: the destinations whose deliveries share it (comma-separated), for the orphan sweep. */
const GROUP_HEADER = 'Hookcast-Destinations'

/**
 * Room kept for headers beside a body: the event's metadata (ids and names of at most a few hundred bytes each)
 * and a dead letter's attempts (trimmed to DEAD_BUDGET). A body may be at most max_payload minus this.
 */
export const HEADER_ROOM_BYTES = 64 * 1024
const DEAD_BUDGET = 32 * 1024
const ERROR_CHARS = 1_000

function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

export function eventHeaders(meta: EventMeta, extra: { group?: readonly string[]; dead?: DeadRecord } = {}): MsgHdrs {
  const h = headers()
  h.set(EVENT_HEADER, asciiJson(meta))
  if (extra.group) h.set(GROUP_HEADER, asciiJson(extra.group))
  if (extra.dead) h.set(DEAD_HEADER, asciiJson(trimDead(extra.dead)))
  return h
}

export function readGroup(h: MsgHdrs | undefined): string[] | undefined {
  const raw = h?.get(GROUP_HEADER)
  const group = raw ? parse(raw) : undefined
  return Array.isArray(group) && group.every((d) => typeof d === 'string') ? (group as string[]) : undefined
}

export function readEventMeta(h: MsgHdrs | undefined): EventMeta | undefined {
  const raw = h?.get(EVENT_HEADER)
  if (!raw) return undefined
  const meta = parse(raw) as EventMeta | undefined
  return meta && typeof meta.id === 'string' && typeof meta.receivedAt === 'number' ? meta : undefined
}

export function readDead(h: MsgHdrs | undefined): DeadRecord | undefined {
  const raw = h?.get(DEAD_HEADER)
  const dead = raw ? (parse(raw) as DeadRecord | undefined) : undefined
  return dead && typeof dead.destination === 'string' && Array.isArray(dead.attempts) ? dead : undefined
}

export function encodeDelivery(record: DeliveryRecord): Uint8Array {
  return encodeDeliveryState(record)
}

export function decodeDelivery(data: Uint8Array): DeliveryRecord | undefined {
  return decodeDeliveryState<DeliveryRecord>(data, (record) => Number.isSafeInteger(record.eventSeq))
}

/** Keeps a dead letter's header within its budget: long errors are cut, and past that the middle attempts left out. */
function trimDead(dead: DeadRecord): DeadRecord {
  const attempts = dead.attempts.map(
    (attempt): Attempt =>
      attempt.error.length > ERROR_CHARS
        ? { at: attempt.at, error: `${attempt.error.slice(0, ERROR_CHARS)}…` }
        : attempt,
  )
  const sizes = attempts.map((attempt) => asciiJson(attempt).length + 1)
  if (asciiJson({ ...dead, attempts: [] }).length + sizes.reduce((a, b) => a + b, 0) <= DEAD_BUDGET)
    return { ...dead, attempts }
  // The first attempt, a note, and as many of the last ones as fit.
  let room = DEAD_BUDGET - asciiJson({ ...dead, attempts: [] }).length - sizes[0]! - 100
  let from = attempts.length
  while (from > 1 && room - sizes[from - 1]! >= 0) room -= sizes[--from]!
  const note: Attempt = { at: attempts[1]!.at, error: `(${from - 1} more attempts left out)` }
  return { ...dead, attempts: [attempts[0]!, note, ...attempts.slice(from)] }
}

function parse(raw: string): unknown {
  try {
    return JSON.parse(raw)
  } catch {
    return undefined
  }
}
