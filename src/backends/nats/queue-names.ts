/**
 * The names of the NATS queue's JetStream streams, subjects and consumers, all made from one prefix so several
 * hookcast clusters (or tests) can share a NATS account.
 * @module
 */

export interface NatsNames {
  prefix: string
  /** `<prefix>-events`, `<prefix>-deliveries` (a work queue), `<prefix>-dead`, and `<prefix>-chunks` (large bodies). */
  jetStreams: { events: string; deliveries: string; dead: string; chunks: string }
  /** `<prefix>.events.<eventId>`: a stored copy of an event (its metadata in a header, its body as payload). */
  event(eventId: string): string
  /** `<prefix>.deliver.<destination>.<eventSeq>`: a pending delivery of the event copy at `eventSeq`. */
  delivery(destination: string, eventSeq: number): string
  /** Every delivery of `destination` (its consumer's filter). */
  deliveries(destination: string): string
  /** The durable consumer that hands out `destination`'s deliveries. */
  consumer(destination: string): string
  /** The destination a consumer serves, or undefined when the name is not one of ours. */
  destinationOf(consumer: string): string | undefined
  /** `<prefix>.dead.<destination>.<eventId>`: the delivery's last dead letter, with its event's body. */
  dead(destination: string, eventId: string): string
  /** Dead letters of one destination, one event, both, or all. */
  deadFilter(filter: { destination?: string; eventId?: string }): string
}

const SAFE = /^[A-Za-z0-9_-]+$/

export function natsNames(prefix: string): NatsNames {
  if (!SAFE.test(prefix)) throw new Error(`NATS prefix "${prefix}" may only have letters, digits, _ and -`)
  return {
    prefix,
    jetStreams: {
      events: `${prefix}-events`,
      deliveries: `${prefix}-deliveries`,
      dead: `${prefix}-dead`,
      chunks: `${prefix}-chunks`,
    },
    event: (eventId) => `${prefix}.events.${subjectToken(eventId)}`,
    delivery: (destination, eventSeq) => `${prefix}.deliver.${subjectToken(destination)}.${eventSeq}`,
    deliveries: (destination) => `${prefix}.deliver.${subjectToken(destination)}.*`,
    consumer: (destination) => subjectToken(destination),
    destinationOf: (consumer) => fromSubjectToken(consumer),
    dead: (destination, eventId) => `${prefix}.dead.${subjectToken(destination)}.${subjectToken(eventId)}`,
    deadFilter: ({ destination, eventId }) => `${prefix}.dead.${tokenOrAny(destination)}.${tokenOrAny(eventId)}`,
  }
}

const tokenOrAny = (name: string | undefined) => (name === undefined ? '*' : subjectToken(name))

/**
 * A name as one subject token (and consumer name): letters, digits, `_` and `-` stay, every other byte becomes `=XX`.
 * Destination names are `[A-Za-z0-9_-]` already; the internal `@streams` becomes `=40streams`, which no configured
 * destination can be called.
 */
export function subjectToken(name: string): string {
  if (SAFE.test(name)) return name
  let out = ''
  for (const char of name) {
    if (SAFE.test(char)) out += char
    else
      for (const byte of new TextEncoder().encode(char)) out += `=${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

export function fromSubjectToken(token: string): string | undefined {
  if (!/^(?:[A-Za-z0-9_-]|=[0-9A-F]{2})+$/.test(token)) return undefined
  const bytes: number[] = []
  for (let i = 0; i < token.length; i++) {
    if (token[i] === '=') {
      bytes.push(parseInt(token.slice(i + 1, i + 3), 16))
      i += 2
    } else bytes.push(token.charCodeAt(i))
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(bytes))
  } catch {
    return undefined
  }
}
