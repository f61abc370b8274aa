/**
 * Where the S3 queue keeps things under its prefix. Destinations and event ids are key segments encoded with
 * encodeURIComponent, `.` included (so no segment is `.` or `..`, which URL normalisation would eat): a
 * destination named `a/b` cannot collide with `a`, and any name round-trips.
 *
 * ```
 * <prefix>/deliveries/<destination>/<eventId>   one per pending delivery: its state, as JSON (the claim lease inside)
 * <prefix>/events/<eventId>/<copy>              the event (metadata + exact body), one copy per put
 * <prefix>/dead/<destination>/<eventId>         a dead letter: its metadata, attempts and the body
 * <prefix>/seen/<eventId>                       the dedup window's marker of an event put
 * ```
 * @module
 */

export interface S3QueueKeys {
  /** The prefix, with its trailing `/` (empty for the bucket's root). */
  readonly root: string
  delivery(destination: string, eventId: string): string
  /** Prefix of every delivery, or of one destination's. */
  deliveries(destination?: string): string
  parseDelivery(key: string): { destination: string; eventId: string } | undefined
  copy(eventId: string, copy: string): string
  copies(): string
  parseCopy(key: string): { eventId: string; copy: string } | undefined
  dead(destination: string, eventId: string): string
  deadLetters(destination?: string): string
  parseDead(key: string): { destination: string; eventId: string } | undefined
  seen(eventId: string): string
  seenAll(): string
}

export function encodeSegment(value: string): string {
  return encodeURIComponent(value).replace(/[.!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

function decodeSegment(value: string): string | undefined {
  try {
    return decodeURIComponent(value)
  } catch {
    return undefined
  }
}

/** Where the backend's keys start: `prefix` (default `hookcast`) without outer slashes, then `/`; empty for none. */
export function prefixRoot(prefix = 'hookcast'): string {
  const trimmed = prefix.replace(/^\/+|\/+$/g, '')
  return trimmed ? `${trimmed}/` : ''
}

export function s3QueueKeys(prefix?: string): S3QueueKeys {
  const root = prefixRoot(prefix)
  const two = (dir: string) => (key: string) => {
    if (!key.startsWith(dir)) return undefined
    const parts = key.slice(dir.length).split('/')
    if (parts.length !== 2) return undefined
    const [a, b] = parts.map(decodeSegment)
    return a && b ? ([a, b] as const) : undefined
  }
  const deliveryParts = two(`${root}deliveries/`)
  const copyParts = two(`${root}events/`)
  const deadParts = two(`${root}dead/`)
  return {
    root,
    delivery: (destination, eventId) => `${root}deliveries/${encodeSegment(destination)}/${encodeSegment(eventId)}`,
    deliveries: (destination) =>
      `${root}deliveries/${destination === undefined ? '' : `${encodeSegment(destination)}/`}`,
    parseDelivery(key) {
      const parts = deliveryParts(key)
      return parts && { destination: parts[0], eventId: parts[1] }
    },
    copy: (eventId, copy) => `${root}events/${encodeSegment(eventId)}/${encodeSegment(copy)}`,
    copies: () => `${root}events/`,
    parseCopy(key) {
      const parts = copyParts(key)
      return parts && { eventId: parts[0], copy: parts[1] }
    },
    dead: (destination, eventId) => `${root}dead/${encodeSegment(destination)}/${encodeSegment(eventId)}`,
    deadLetters: (destination) => `${root}dead/${destination === undefined ? '' : `${encodeSegment(destination)}/`}`,
    parseDead(key) {
      const parts = deadParts(key)
      return parts && { destination: parts[0], eventId: parts[1] }
    },
    seen: (eventId) => `${root}seen/${encodeSegment(eventId)}`,
    seenAll: () => `${root}seen/`,
  }
}
