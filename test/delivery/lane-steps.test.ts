/** The steps the worker and the on-demand worker share for a lane: what its circuit hears, how much it claims. */
import { describe, expect, it } from 'vitest'
import { createCircuit, hearVerdict } from '../../src/delivery/circuit.ts'
import { room } from '../../src/delivery/worker.ts'

const POLICY = { failures: 2, probeAfterMs: 1_000, maxProbeAfterMs: 4_000 }

describe('hearVerdict', () => {
  it('up closes the circuit, down counts towards opening it, none leaves a closed circuit as it is', () => {
    const circuit = createCircuit(POLICY)
    hearVerdict(circuit, 'down', false, () => 0)
    hearVerdict(circuit, 'none', false, () => 0)
    hearVerdict(circuit, 'up', false, () => 0) // resets the count
    hearVerdict(circuit, 'down', false, () => 0)
    expect(circuit.state()).toBe('closed')
    hearVerdict(circuit, 'down', false, () => 0)
    expect(circuit.state()).toBe('open')
  })

  it('a probe that says nothing lets the next delivery probe at once', () => {
    const circuit = createCircuit({ ...POLICY, failures: 1 })
    hearVerdict(circuit, 'down', false, () => 0)
    expect(circuit.tryPass(1_000)).toBe(true) // the probe
    expect(circuit.tryPass(1_000)).toBe(false)
    hearVerdict(circuit, 'none', true, () => 1_500)
    expect(circuit.state()).toBe('open')
    expect(circuit.tryPass(1_500)).toBe(true)
  })

  it('a delivery that says nothing and is not the probe leaves the probe alone', () => {
    const circuit = createCircuit({ ...POLICY, failures: 1 })
    hearVerdict(circuit, 'down', false, () => 0)
    expect(circuit.tryPass(1_000)).toBe(true)
    hearVerdict(circuit, 'none', false, () => 1_500)
    expect(circuit.state()).toBe('half-open')
    hearVerdict(circuit, 'down', true, () => 2_000) // a failed probe opens it for twice as long
    expect(circuit.tryPass(3_999)).toBe(false)
    expect(circuit.tryPass(4_000)).toBe(true)
  })
})

describe('room', () => {
  const lane = (inFlight: number, bytes: number, meanBytes: number) => ({
    policy: { concurrency: 8, timeoutMs: 1_000, retry: { scheduleMs: [1], jitter: 0, maxAgeMs: 1 }, circuit: POLICY },
    inFlight: new Set(Array.from({ length: inFlight }, () => Promise.resolve())),
    bytes,
    meanBytes,
  })

  it('claims one while the size of its bodies is unknown', () => {
    expect(room(lane(0, 0, 0), 1_000)).toBe(1)
  })

  it('claims what the concurrency leaves, or what the byte budget leaves at the mean size, whichever is less', () => {
    expect(room(lane(2, 0, 10), 1_000)).toBe(6)
    expect(room(lane(2, 700, 100), 1_000)).toBe(3)
    expect(room(lane(0, 0, 250), 1_000)).toBe(4)
  })

  it('claims at least one, even with the budget spent (the loop waits before asking when it is)', () => {
    expect(room(lane(1, 2_000, 100), 1_000)).toBe(1)
  })
})
