/**
 * The in-flight budget's sharing rules (in-flight.ts), exactly: a client alone may use it all, a client within its
 * share cuts bodies still arriving from one over its share, and small bodies have a reserve of their own.
 */
import { describe, expect, it } from 'vitest'
import { InFlightBytes, SMALL_BODY_BYTES } from '../../src/http/in-flight.ts'

const MiB = 1024 * 1024
const KiB = 1024

/** A lease of `budget` for `client`, with what it was cut with (if it was). */
function leaseOf(budget: InFlightBytes, client: string) {
  let cut: unknown
  const lease = budget.lease(client, () => new Error(`cut ${client}`))
  lease.cut.catch((error: unknown) => {
    cut = error
  })
  return {
    lease,
    wasCut: async () => {
      await Promise.resolve()
      return cut !== undefined
    },
  }
}

describe('InFlightBytes', () => {
  it('shares the budget as a quarter per client (room for a largest and a small body) and a reserve of a 16th', () => {
    const limits = (total: number) => new InFlightBytes({ total, maxBodyBytes: 16 * MiB })
    expect(limits(256 * MiB)).toMatchObject({ share: 64 * MiB, reserve: 16 * MiB, reservePerClient: MiB })
    expect(limits(64 * MiB)).toMatchObject({ share: 16448 * KiB, reserve: 4 * MiB, reservePerClient: 256 * KiB })
    expect(limits(16 * MiB)).toMatchObject({ share: 16448 * KiB, reserve: MiB, reservePerClient: 64 * KiB })
  })

  it('lets a client alone use the whole budget', () => {
    const budget = new InFlightBytes({ total: 8 * MiB, maxBodyBytes: MiB })
    const leases = Array.from({ length: 8 }, () => leaseOf(budget, 'a').lease)
    for (const lease of leases) expect(lease.take(MiB, false)).toBe(true)
    expect(leaseOf(budget, 'a').lease.take(1, false)).toBe(false) // the same client: nobody to cut
    expect(budget.used).toBe(8 * MiB)
  })

  it('cuts the largest bodies of a client over its share, as few as needed, for one within its share', async () => {
    const budget = new InFlightBytes({ total: 8 * MiB, maxBodyBytes: MiB }) // share: 2 MiB
    const small = leaseOf(budget, 'hog')
    const large = leaseOf(budget, 'hog')
    const settled = leaseOf(budget, 'hog')
    expect(small.lease.take(MiB, false)).toBe(true)
    expect(large.lease.take(4 * MiB, false)).toBe(true)
    expect(settled.lease.take(3 * MiB, false)).toBe(true)
    settled.lease.settle() // read whole: never cut

    const platform = leaseOf(budget, 'platform')
    expect(platform.lease.take(2 * MiB, false)).toBe(true)
    expect(await large.wasCut()).toBe(true)
    expect(await small.wasCut()).toBe(false)
    expect(await settled.wasCut()).toBe(false)
    expect(large.lease.held).toBe(0)
    expect(large.lease.take(1, false)).toBe(false) // a cut body takes nothing more
    expect(budget.used).toBe(6 * MiB)

    // Past its own share the platform may cut nobody, though the hog (4 MiB) is still over its share.
    expect(platform.lease.take(3 * MiB, false)).toBe(false)
    expect(await small.wasCut()).toBe(false)
  })

  it('cuts nothing when cutting could not make room', async () => {
    const budget = new InFlightBytes({ total: 4 * MiB, maxBodyBytes: MiB }) // share: 1 MiB + 64 KiB
    const settled = leaseOf(budget, 'hog')
    const arriving = leaseOf(budget, 'hog')
    expect(settled.lease.take(MiB, false)).toBe(true)
    settled.lease.settle()
    expect(arriving.lease.take(MiB / 2, false)).toBe(true)
    for (const client of ['b', 'c']) expect(leaseOf(budget, client).lease.take(MiB, false)).toBe(true)
    expect(leaseOf(budget, 'd').lease.take(MiB / 2, false)).toBe(true)
    // Cutting the half MiB still arriving would leave the hog within its share, and half the room needed.
    expect(leaseOf(budget, 'third').lease.take(MiB, false)).toBe(false)
    expect(await arriving.wasCut()).toBe(false)
    expect(budget.used).toBe(4 * MiB)
  })

  it('keeps a reserve for small bodies when clients within their share fill the budget (64 KiB a client)', () => {
    const budget = new InFlightBytes({ total: 4 * MiB, maxBodyBytes: MiB })
    for (const client of ['a', 'b', 'c', 'd']) expect(leaseOf(budget, client).lease.take(MiB, false)).toBe(true)
    const platform = leaseOf(budget, 'platform').lease
    expect(platform.take(SMALL_BODY_BYTES + 1, false)).toBe(false) // not small: the budget is full
    expect(platform.take(300, true)).toBe(true)
    expect(leaseOf(budget, 'platform').lease.take(SMALL_BODY_BYTES - 300, true)).toBe(true)
    expect(leaseOf(budget, 'platform').lease.take(1, true)).toBe(false) // its 64 KiB of the reserve are taken
    expect(leaseOf(budget, 'other').lease.take(SMALL_BODY_BYTES, true)).toBe(true)
    platform.release()
    platform.release()
    expect(budget.used).toBe(4 * MiB + SMALL_BODY_BYTES * 2 - 300)
  })
})
