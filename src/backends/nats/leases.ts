/**
 * The claims this instance holds, each tied to the JetStream message it came from. Two clocks keep a claim: the
 * consumer's ack wait on the server (how long before JetStream hands the message to someone else if this instance
 * goes silent), and the claim's own lease here. A lease longer than the ack wait is kept alive with `+WPI` every
 * third of the ack wait; a lease that runs out is given back at once (`-NAK`).
 * @module
 */
import { LeaseLostError, type Claim } from '../../queue/types.ts'
import type { DeliveryRecord } from './messages.ts'
import type { PulledMessage } from './pull.ts'

export interface Held {
  token: string
  message: PulledMessage
  record: DeliveryRecord
  leaseUntil: number
  /** When the server last confirmed the hold (the pull, or a confirmed +WPI). */
  confirmedAt: number
  timer: ReturnType<typeof setTimeout> | undefined
  /** The subject of the event's body chunks, once loaded from a copy that has them (removed with the copy). */
  chunks?: string
}

interface LeasesOptions {
  ackWaitMs: number
  now: () => number
  /** Gives a delivery back for someone else to claim now (the lease ran out). */
  release(held: Held): void
  /** Renews the hold on the server; resolves once it confirmed. */
  renew(held: Held): Promise<void>
}

/**
 * JetStream (2.9) takes an ack from any earlier holder of a message, even one whose ack wait ran out and whose
 * message went to another instance since: the server cannot tell a late holder. So a claim counts as lost
 * (LeaseLostError, nothing sent for it) as soon as this instance cannot be sure it still holds it: its lease ran out,
 * or the server has not confirmed the hold for longer than the ack wait. What cannot be seen from here is a holder
 * frozen past the ack wait without noticing (a paused VM): its late ack ends the other holder's delivery, which was
 * then made twice.
 */
export class Leases {
  readonly #held = new Map<string, Held>()
  readonly #options: LeasesOptions

  constructor(options: LeasesOptions) {
    this.#options = options
  }

  get size(): number {
    return this.#held.size
  }

  hold(message: PulledMessage, record: DeliveryRecord, leaseMs: number, pulledAt: number): Claim {
    const token = crypto.randomUUID()
    const held: Held = {
      token,
      message,
      record,
      leaseUntil: this.#options.now() + leaseMs,
      confirmedAt: pulledAt,
      timer: undefined,
    }
    this.#held.set(token, held)
    this.#schedule(held)
    return {
      eventId: record.eventId,
      destination: record.destination,
      receivedAt: record.receivedAt,
      since: record.since,
      attempts: [...record.attempts],
      nextAt: record.nextAt,
      token,
      leaseUntil: held.leaseUntil,
    }
  }

  /** The claim's hold; throws LeaseLostError when this instance may not hold it any more. */
  get(claim: Claim): Held {
    const held = this.#held.get(claim.token)
    if (held && this.#check(held, this.#options.now())) return held
    throw new LeaseLostError(`claim of ${claim.eventId} for ${claim.destination} is not held any more`)
  }

  /** Whether `held` is still this instance's (a claim may be lost while a request for it was under way). */
  holds(held: Held): boolean {
    return this.#held.get(held.token) === held
  }

  /** Holds it `leaseMs` from now; the caller has just renewed it on the server (confirmed at `renewedAt`). */
  extend(held: Held, leaseMs: number, renewedAt: number): number {
    held.confirmedAt = Math.max(held.confirmedAt, renewedAt)
    held.leaseUntil = this.#options.now() + leaseMs
    this.#schedule(held)
    return held.leaseUntil
  }

  /** The claim is over (acked, retried, dead). */
  end(held: Held): void {
    this.#drop(held)
  }

  /** Every claim, ended here (closing: the caller gives them back). */
  takeAll(): Held[] {
    const all = [...this.#held.values()]
    for (const held of all) this.#drop(held)
    return all
  }

  #drop(held: Held): void {
    clearTimeout(held.timer)
    this.#held.delete(held.token)
  }

  #schedule(held: Held): void {
    clearTimeout(held.timer)
    const { ackWaitMs, now } = this.#options
    // Renew when the server's ack wait would end before the lease does.
    const renewAt = held.leaseUntil > held.confirmedAt + ackWaitMs ? held.confirmedAt + ackWaitMs / 3 : Infinity
    const at = Math.min(held.leaseUntil, renewAt)
    held.timer = setTimeout(() => this.#due(held), Math.max(0, at - now()))
    ;(held.timer as { unref?: () => void }).unref?.()
  }

  /**
   * Ends a claim that is not certainly held any more. Unconfirmed for the ack wait: the server may have handed it
   * to someone else, so nothing is sent for it. Lease run out: given back.
   */
  #check(held: Held, now: number): boolean {
    if (now - held.confirmedAt >= this.#options.ackWaitMs) {
      this.#drop(held)
      return false
    }
    if (now >= held.leaseUntil) {
      this.#drop(held)
      this.#options.release(held)
      return false
    }
    return true
  }

  #due(held: Held): void {
    const sentAt = this.#options.now()
    if (!this.holds(held) || !this.#check(held, sentAt)) return
    this.#options.renew(held).then(
      () => {
        if (!this.holds(held)) return
        // Confirmed, but after a gap longer than the ack wait: someone else may have it now.
        if (sentAt - held.confirmedAt >= this.#options.ackWaitMs) return this.#drop(held)
        held.confirmedAt = sentAt
        this.#schedule(held)
      },
      () => {
        // Not confirmed (the connection is away): try again soon; past the ack wait the claim counts as lost.
        if (!this.holds(held)) return
        clearTimeout(held.timer)
        held.timer = setTimeout(() => this.#due(held), Math.max(100, this.#options.ackWaitMs / 10))
        ;(held.timer as { unref?: () => void }).unref?.()
      },
    )
  }
}
