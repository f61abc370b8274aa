/**
 * The backlog as the bucket holds it: three LISTs (event copies, deliveries, dead letters), no object read.
 * @module
 */
import type { QueueStats } from '../../queue/types.ts'
import type { S3Context } from './queue-context.ts'
import { listAll, type ListedObject } from './objects.ts'
import { copyReceivedAt } from './delivery-objects.ts'

export async function s3QueueStats(ctx: S3Context): Promise<QueueStats> {
  const { keys, now } = ctx
  const [copies, deliveries, dead] = await Promise.all(
    [keys.copies(), keys.deliveries(), keys.deadLetters()].map((prefix) => listAll(ctx.objects, prefix)),
  )
  const destinations: Record<string, number> = Object.create(null)
  for (const object of deliveries!) {
    const parsed = keys.parseDelivery(object.key)
    if (parsed) destinations[parsed.destination] = (destinations[parsed.destination] ?? 0) + 1
  }
  const events = new Set<string>()
  let oldest = Infinity
  for (const object of copies!) {
    const parsed = keys.parseCopy(object.key)
    if (!parsed) continue
    events.add(parsed.eventId)
    oldest = Math.min(oldest, copyReceivedAt(parsed.copy) ?? Infinity)
  }
  const size = (list: ListedObject[]) => list.reduce((sum, object) => sum + object.size, 0)
  return {
    pendingEvents: events.size,
    pendingDeliveries: Object.values(destinations).reduce((a, b) => a + b, 0),
    deadLetters: dead!.filter((object) => keys.parseDead(object.key)).length,
    bytes: size(copies!) + size(deliveries!) + size(dead!),
    oldestPendingAgeMs: oldest === Infinity ? 0 : Math.max(0, now() - oldest),
    destinations,
  }
}
