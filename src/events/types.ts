/**
 * The one typed event every hook kind is parsed into, and the names of the kinds and events we know.
 * @module
 */

/**
 * Hook kinds the platform documents (docs/protocol.md §1), with their events. The platform adds kinds, so an event's
 * `type` may be any other string too.
 */
const KNOWN_EVENTS = {
  feeds: ['started', 'ended'],
  recordings: ['started', 'completed', 'error', 'deleted'],
  media: ['processing', 'completed', 'errored', 'deleted'],
  thumbnail: ['thumbnail'],
  transcoder: ['ACTIVE', 'STOPPED', 'DELETED'],
  viewerConnection: ['ViewerAttempt', 'FirstViewerConnection', 'NoActiveViewers'],
  /** hookcast's own: a stream went live / its live session ended (derived from feed hooks). */
  stream: ['live', 'ended'],
} as const

type KnownType = keyof typeof KNOWN_EVENTS

/** Kinds hookcast makes itself: a platform hook may not claim them (its type is refused, in any casing). */
const OWN_TYPES: readonly string[] = ['stream']

/** Whether a type is one of hookcast's own: `stream`, and every `hookcast.*` kind (internal work, such as checks). */
export function isOwnType(type: string): boolean {
  return OWN_TYPES.includes(type) || type.toLowerCase().startsWith('hookcast.')
}

export const KNOWN_TYPES = Object.keys(KNOWN_EVENTS) as KnownType[]

export type EventContentType = 'application/json' | 'image/jpeg'

export interface HookEvent {
  /** Deterministic id (hash of the body, plus the metadata headers for thumbnails): same delivery, same id. */
  id: string
  /** Name of the configured source that received it. */
  source: string
  /** Hook kind: one of KNOWN_TYPES in its documented spelling, or the platform's string for a kind we don't know. */
  type: string
  /** Event name in its documented spelling (`started`, `ACTIVE`, `ViewerAttempt`); `thumbnail` for thumbnails. */
  event: string
  /** When the platform sent it (JSON `timestamp`) or captured it (thumbnail `X-Millicast-Timestamp`), epoch ms. */
  timestamp: number
  /** When hookcast accepted it, epoch ms. */
  receivedAt: number
  streamId?: string
  streamName?: string
  accountId?: string
  feedId?: string
  tokenId?: string
  contentType: EventContentType
  /** The exact signed bytes. */
  body: Uint8Array
  /** CRC-32 of `body`, to check it when it is read back from the queue (body-check.ts). */
  bodyCrc32?: number
  /** Lowercase hex SHA-256 of `body`: what events queued before hookcast 0.2 carry instead of `bodyCrc32`. */
  bodySha256?: string
  /** The parsed `data` object of a JSON hook. */
  data?: Record<string, unknown>
}

/** Case-insensitive lookup of a documented spelling: `viewerattempt` -> `ViewerAttempt`. */
function canonicalName(name: string, known: readonly string[]): string {
  const lower = name.toLowerCase()
  return known.find((candidate) => candidate.toLowerCase() === lower) ?? name
}

export function canonicalType(type: string): string {
  return canonicalName(type, KNOWN_TYPES)
}

export function canonicalEvent(type: string, event: string): string {
  // `type` is input: only the table's own keys count (`constructor` or `__proto__` is an unknown kind, not a hit).
  const known = Object.hasOwn(KNOWN_EVENTS, type)
    ? (KNOWN_EVENTS as Record<string, readonly string[]>)[type]
    : undefined
  return known ? canonicalName(event, known) : event
}
