/**
 * The body bytes all requests hold at once (`server.maxInFlightBytes`), counted as they arrive and shared between
 * clients, so that nobody without the secret can keep the platform's hooks out.
 * @module
 */

/** A body at most this large is small: the reserve is for such bodies, and their declared length is taken whole. */
export const SMALL_BODY_BYTES = 64 * 1024

interface InFlightLimits {
  /** Bytes all bodies may hold at once (`server.maxInFlightBytes`). */
  total: number
  /** The largest body (`server.maxBodyBytes`): a client's share always has room for one, and a small one. */
  maxBodyBytes: number
}

export interface InFlightLease {
  /**
   * Takes `bytes` more for this request's body: from the budget (cutting bodies of clients over their share when
   * this client is within its own), else, for a `small` body, from the reserve. False (nothing taken) when neither
   * has room.
   */
  take(bytes: number, small: boolean): boolean
  /** The body is read whole: it is no longer cut to make room. */
  settle(): void
  /** Gives back everything taken; safe to call more than once. */
  release(): void
  /** Rejects (with the lease's `cutError()`) if the body is cut to make room; never settles otherwise. */
  readonly cut: Promise<never>
  readonly held: number
}

interface Lease {
  client: Client
  budget: number
  reserve: number
  /** `reading` until the body is read whole; `cut` once cut to make room (it takes nothing more). */
  state: 'reading' | 'settled' | 'cut'
  cutOff(): void
}

interface Client {
  key: string
  budget: number
  reserve: number
  leases: Set<Lease>
}

/**
 * The shared budget:
 * - a client (an address, see client-address.ts) may hold more than its share (a quarter of the budget, and at
 *   least room for one body of maxBodyBytes and a small one) only while nobody else needs the room: when a client
 *   within its share needs it, bodies still arriving from a client over its share are cut (503 busy) to make it;
 * - small bodies (at most 64 KiB: every JSON hook, most thumbnails) also have a reserve of their own beyond the
 *   budget (a sixteenth of it, at least 256 KiB), of which one client holds at most a sixteenth (at least 64 KiB),
 *   for when clients that each stay within their share fill the budget.
 * A body already read whole is never cut: it is verified and answered at once.
 */
export class InFlightBytes {
  readonly total: number
  readonly share: number
  readonly reserve: number
  readonly reservePerClient: number
  #used = 0
  #reserveUsed = 0
  readonly #clients = new Map<string, Client>()

  constructor(limits: InFlightLimits) {
    this.total = limits.total
    this.share = Math.max(limits.maxBodyBytes + SMALL_BODY_BYTES, Math.floor(limits.total / 4))
    this.reserve = Math.max(4 * SMALL_BODY_BYTES, Math.floor(limits.total / 16))
    this.reservePerClient = Math.max(SMALL_BODY_BYTES, Math.floor(this.reserve / 16))
  }

  /** Bytes held right now, by all requests (budget and reserve). */
  get used(): number {
    return this.#used + this.#reserveUsed
  }

  /** One request's hold on the budget, for the client `clientKey`; `cutError` is what `cut` rejects with. */
  lease(clientKey: string, cutError: () => Error): InFlightLease {
    let cutOff!: (error: Error) => void
    const cut = new Promise<never>((_, reject) => {
      cutOff = reject
    })
    cut.catch(() => {}) // observed by the body read if it is still waiting; never an unhandled rejection
    let lease: Lease | undefined
    const open = (): Lease => (lease ??= this.#open(clientKey, () => cutOff(cutError())))
    return {
      take: (bytes, small) => bytes <= 0 || this.#take(open(), bytes, small),
      settle: () => {
        if (lease?.state === 'reading') lease.state = 'settled'
      },
      release: () => {
        if (lease) this.#release(lease)
      },
      cut,
      get held() {
        return lease ? lease.budget + lease.reserve : 0
      },
    }
  }

  #open(key: string, cutOff: () => void): Lease {
    let client = this.#clients.get(key)
    if (!client) this.#clients.set(key, (client = { key, budget: 0, reserve: 0, leases: new Set() }))
    const lease: Lease = { client, budget: 0, reserve: 0, state: 'reading', cutOff }
    client.leases.add(lease)
    return lease
  }

  #take(lease: Lease, bytes: number, small: boolean): boolean {
    const { client } = lease
    if (lease.state === 'cut') return false
    if (this.#used + bytes <= this.total || (client.budget + bytes <= this.share && this.#makeRoom(bytes, client))) {
      this.#used += bytes
      client.budget += bytes
      lease.budget += bytes
      return true
    }
    if (small && this.#reserveUsed + bytes <= this.reserve && client.reserve + bytes <= this.reservePerClient) {
      this.#reserveUsed += bytes
      client.reserve += bytes
      lease.reserve += bytes
      return true
    }
    return false
  }

  /**
   * Cuts bodies still arriving from clients over their share, largest first, until `bytes` fit; cuts nothing and
   * answers false when they cannot be made to fit.
   */
  #makeRoom(bytes: number, taker: Client): boolean {
    const victims: Lease[] = []
    const left = new Map<Client, number>() // what each client would hold once its victims are cut
    let room = this.total - this.#used
    while (room < bytes) {
      let victim: Lease | undefined
      for (const client of this.#clients.values()) {
        if (client === taker || (left.get(client) ?? client.budget) <= this.share) continue
        for (const lease of client.leases) {
          if (lease.state !== 'reading' || lease.budget === 0 || victims.includes(lease)) continue
          if (!victim || lease.budget > victim.budget) victim = lease
        }
      }
      if (!victim) return false
      victims.push(victim)
      left.set(victim.client, (left.get(victim.client) ?? victim.client.budget) - victim.budget)
      room += victim.budget
    }
    for (const victim of victims) {
      victim.state = 'cut'
      this.#release(victim)
      victim.cutOff()
    }
    return true
  }

  #release(lease: Lease): void {
    const { client } = lease
    this.#used -= lease.budget
    this.#reserveUsed -= lease.reserve
    client.budget -= lease.budget
    client.reserve -= lease.reserve
    lease.budget = 0
    lease.reserve = 0
    client.leases.delete(lease)
    if (client.leases.size === 0 && this.#clients.get(client.key) === client) this.#clients.delete(client.key)
  }
}
