/**
 * A circuit per destination: after `failures` transient failures in a row it opens, and deliveries to that
 * destination wait instead of hammering it; after `probeAfterMs` one delivery is let through as a probe. A success
 * closes it; a failed probe opens it again for twice as long (up to `maxProbeAfterMs`); a probe that tells nothing
 * (deferred, aborted) lets the next delivery probe.
 * @module
 */

export interface CircuitPolicy {
  failures: number
  probeAfterMs: number
  maxProbeAfterMs: number
}

export type CircuitState = 'closed' | 'open' | 'half-open'

/** What an attempt showed about its destination, for the circuit: it answered, it failed, or nothing. */
export type Verdict = 'up' | 'down' | 'none'

export interface Circuit {
  state(): CircuitState
  /** May a delivery start now? In half-open state, true once (the probe). */
  tryPass(now: number): boolean
  /** When an open circuit will let a probe through, epoch ms. */
  reopensAt(): number
  success(): void
  failure(now: number): void
  /**
   * The probe ended without saying anything about the destination (deferred, aborted, an event hookcast itself
   * could not process): the next delivery becomes the probe.
   */
  release(now: number): void
}

export function createCircuit(policy: CircuitPolicy): Circuit {
  let state: CircuitState = 'closed'
  let consecutive = 0
  let openUntil = 0
  let wait = policy.probeAfterMs

  const open = (now: number) => {
    state = 'open'
    openUntil = now + wait
  }

  return {
    state: () => state,
    tryPass(now) {
      if (state === 'closed') return true
      if (state === 'open' && now >= openUntil) {
        state = 'half-open' // this caller is the probe; others wait for its outcome
        return true
      }
      return false
    },
    reopensAt: () => openUntil,
    success() {
      state = 'closed'
      consecutive = 0
      wait = policy.probeAfterMs
    },
    release(now) {
      if (state === 'half-open') {
        state = 'open'
        openUntil = now
      }
    },
    failure(now) {
      consecutive++
      if (state === 'half-open') {
        wait = Math.min(wait * 2, policy.maxProbeAfterMs)
        open(now)
      } else if (state === 'closed' && consecutive >= policy.failures) {
        open(now)
      }
    },
  }
}

/** Tells the circuit what an attempt showed. Every outcome of a probe moves it on, even one that says nothing. */
export function hearVerdict(circuit: Circuit, verdict: Verdict, probe: boolean, now: () => number): void {
  if (verdict === 'up') circuit.success()
  else if (verdict === 'down') circuit.failure(now())
  else if (probe) circuit.release(now())
}
