/**
 * The wait of a claim without a destination (backends/nats/claims.ts): it ends as soon as any instance publishes a
 * delivery of its queue, on its signal, or after its time, whichever comes first.
 */
import { describe, expect, it } from 'vitest'
import { deliveryNap } from '../../../src/backends/nats/claims.ts'
import { natsNames } from '../../../src/backends/nats/queue-names.ts'
import { natsForTests } from './nats-for-tests.ts'

const server = natsForTests()
const HOUR = 3_600_000
const never = new AbortController().signal

describe('NATS delivery nap', () => {
  it("wakes every waiting nap when another instance publishes a delivery, and not for another queue's", async () => {
    const [nc, other] = await Promise.all([server.connect(), server.connect()])
    const nap = deliveryNap({ nc, names: natsNames('nap') })
    let woken = 0
    const naps = [nap(HOUR, never), nap(HOUR, never)].map((napping) => napping.then(() => woken++))
    await nc.flush() // the subscription is on the server
    other.publish('elsewhere.deliver.disk.7', '')
    other.publish('nap.events.e1', '')
    await other.flush()
    await nc.flush() // anything the server routed to nc has arrived before this answer
    expect(woken).toBe(0)
    other.publish('nap.deliver.disk.7', '')
    await Promise.all(naps)
    expect(woken).toBe(2)
  })

  it('ends on its signal, or after its time', async () => {
    const nap = deliveryNap({ nc: await server.connect(), names: natsNames('nap') })
    const stop = new AbortController()
    const stopped = nap(HOUR, stop.signal)
    stop.abort()
    await stopped
    await nap(1, never)
  })
})
