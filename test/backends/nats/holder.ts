/**
 * Another hookcast instance, for test/backends/nats/instances.test.ts to kill: opens the NATS queue, claims up to `max`
 * deliveries of `destination` with a long lease, prints their event ids as one JSON line, and holds them (its
 * lease kept alive on the server) until it is killed.
 *
 * Usage: node --import tsx test/backends/nats/holder.ts <server url> <prefix> <ackWaitMs> <destination> <max>
 */
import { openNatsQueue } from '../../../src/backends/nats/queue.ts'
import { silentLogger } from '../../../src/log.ts'

const [server, prefix, ackWaitMs, destination, max] = process.argv.slice(2)
const queue = await openNatsQueue({
  servers: [server!],
  prefix: prefix!,
  dedupWindowMs: 0,
  ackWaitMs: Number(ackWaitMs),
  log: silentLogger,
})
const claims = await queue.claim({ destination: destination!, max: Number(max), leaseMs: 600_000, waitMs: 5_000 })
console.log(JSON.stringify(claims.map((claim) => claim.eventId)))
setInterval(() => {}, 60_000)
