/**
 * Pull requests to a JetStream consumer on the core protocol (`$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`,
 * answered on an inbox), for two things the client's `fetch` does not offer: an answer at once when nothing is
 * pending (`no_wait`: 404), and a long poll that ends as soon as something was handed out (`no_wait` with
 * `expires`: 408 when it expires). nats-server 2.9 does both. Acks go to each message's reply subject.
 * @module
 */
import { createInbox, type Msg, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node'

export interface PulledMessage {
  subject: string
  data: Uint8Array
  headers: MsgHdrs | undefined
  /** The ack subject. */
  reply: string
  /** The message's sequence in its JetStream stream. */
  streamSeq: number
  /** How many times the consumer has delivered it (this time included). */
  delivered: number
  /** Messages still pending for the consumer after this one. */
  pending: number
  /** When its JetStream stream stored it, epoch ms. */
  storedAt: number
  /** When this client got it from a pull (the server's ack wait runs from its delivery), epoch ms. */
  arrivedAt?: number
}

interface PullResult {
  messages: PulledMessage[]
  /** The server turned the request away because other requests already wait for what is pending: ask again soon. */
  crowded: boolean
  /** No answer ended the request (the consumer may be gone): it was given up after a guard time. */
  unanswered: boolean
}

interface PullOptions {
  batch: number
  /** 0: answer at once; otherwise wait up to this long for the first message. */
  waitMs: number
  signal?: AbortSignal
  /** A message that arrived after the request was given up (aborted, guard time): the caller gives it back. */
  onLate(message: PulledMessage): void
  /** The clock that stamps `arrivedAt` (default Date.now). */
  now?: () => number
}

/** How long a request without `expires` may go unanswered, ms (it normally ends in a few ms with a status). */
const NO_WAIT_GUARD_MS = 1_000
/** Added to `expires` before a waiting request is given up without its 408. */
const WAIT_GUARD_MS = 2_000

export function pull(
  nc: NatsConnection,
  jetStream: string,
  consumer: string,
  options: PullOptions,
): Promise<PullResult> {
  const { batch, waitMs, signal } = options
  const messages: PulledMessage[] = []
  if (signal?.aborted || batch <= 0) return Promise.resolve({ messages, crowded: false, unanswered: false })
  return new Promise<PullResult>((resolve, reject) => {
    let done = false
    let guard: ReturnType<typeof setTimeout> | undefined
    const inbox = createInbox()
    const finish = (result: { crowded?: boolean; unanswered?: boolean; error?: Error }) => {
      if (done) return
      done = true
      clearTimeout(guard)
      signal?.removeEventListener('abort', onAbort)
      // Unsubscribing stops the server from handing this request anything more (it checks interest first);
      // a message already on its way is given back by onLate.
      setTimeout(() => sub.unsubscribe(), 50)
      if (result.error) reject(result.error)
      else resolve({ messages, crowded: result.crowded ?? false, unanswered: result.unanswered ?? false })
    }
    const arm = () => {
      clearTimeout(guard)
      guard = setTimeout(() => finish({ unanswered: true }), waitMs > 0 ? waitMs + WAIT_GUARD_MS : NO_WAIT_GUARD_MS)
    }
    const onAbort = () => finish({})
    const sub = nc.subscribe(inbox, {
      callback: (error, msg) => {
        if (error) return finish({ error })
        const code = msg.headers?.code ?? 0
        if (code > 0 && msg.data.length === 0 && !msg.reply) {
          if (done) return
          // 404 nothing pending, 408 expired or served (or "Requests Pending"), 409 consumer limits or deleted.
          if (code === 404 || code === 408) return finish({ crowded: /pending/i.test(msg.headers!.description) })
          if (code === 409 && /maxwaiting/i.test(msg.headers!.description)) return finish({ crowded: true })
          return finish({
            error: new Error(`pull from ${jetStream} > ${consumer} refused: ${code} ${msg.headers!.description}`),
          })
        }
        const pulled = toPulled(msg)
        if (!pulled) return
        if (done) return options.onLate(pulled)
        messages.push({ ...pulled, arrivedAt: (options.now ?? Date.now)() })
        if (messages.length >= batch) finish({})
        else arm()
      },
    })
    signal?.addEventListener('abort', onAbort, { once: true })
    arm()
    const request = waitMs > 0 ? { batch, no_wait: true, expires: Math.round(waitMs * 1e6) } : { batch, no_wait: true }
    try {
      nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${jetStream}.${consumer}`, JSON.stringify(request), { reply: inbox })
    } catch (error) {
      finish({ error: error as Error })
    }
  })
}

/** The stream sequence, delivery count and pending count of a JetStream message, from its ack subject. */
function toPulled(msg: Msg): PulledMessage | undefined {
  const reply = msg.reply
  if (!reply?.startsWith('$JS.ACK.')) return undefined
  const tokens = reply.split('.')
  // $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending> (9 tokens), or with domain and account
  // hash after ACK (and a random token at the end) on newer servers.
  const at = tokens.length === 9 ? 4 : 6
  const delivered = Number(tokens[at])
  const streamSeq = Number(tokens[at + 1])
  const pending = Number(tokens[at + 4])
  if (!Number.isSafeInteger(streamSeq) || !Number.isSafeInteger(delivered)) return undefined
  const storedAt = /^\d+$/.test(tokens[at + 3] ?? '') ? Number(BigInt(tokens[at + 3]!) / 1_000_000n) : 0
  return {
    subject: msg.subject,
    data: msg.data,
    headers: msg.headers,
    reply,
    streamSeq,
    delivered,
    storedAt,
    pending: Number.isSafeInteger(pending) ? pending : 0,
  }
}

export const ACK = '+ACK'
export const WORKING = '+WPI'
export const nakAfter = (delayMs: number) =>
  delayMs > 0 ? `-NAK ${JSON.stringify({ delay: Math.round(delayMs * 1e6) })}` : '-NAK'

/** Sends an ack (of any kind) and waits for the server to confirm it. */
export async function confirmAck(nc: NatsConnection, reply: string, payload: string, timeoutMs: number): Promise<void> {
  await nc.request(reply, payload, { timeout: timeoutMs })
}

/** Sends an ack without waiting (a lost one only delays a redelivery). */
export function sendAck(nc: NatsConnection, reply: string, payload: string): void {
  try {
    nc.publish(reply, payload)
  } catch {
    // closed: the lease runs out on the server instead
  }
}
