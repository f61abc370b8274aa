/**
 * Listing and replaying dead letters. `replay` writes a new copy and creates the delivery with `If-None-Match: *`,
 * then deletes the dead letter with `If-Match` (a dead letter written again meanwhile stays). Any number of times,
 * from any process.
 * @module
 */
import { deadLetterOf, matchesFilter } from '../../queue/dead-letter.ts'
import type { DeadLetter, DeadLetterFilter } from '../../queue/types.ts'
import { createDelivery, mapLimit, newDelivery, readFramed, readHeader, type S3Context } from './queue-context.ts'
import { listAll, type ListedObject } from './objects.ts'
import { frame, isDeadHeader, newCopyId, type CopyHeader } from './delivery-objects.ts'
import { errorText } from '../../util/error-text.ts'

async function listDead(ctx: S3Context, filter: DeadLetterFilter): Promise<ListedObject[]> {
  return (await listAll(ctx.objects, ctx.keys.deadLetters(filter.destination))).filter((object) => {
    const parsed = ctx.keys.parseDead(object.key)
    return parsed && (filter.eventId === undefined || parsed.eventId === filter.eventId)
  })
}

export async function listDeadLetters(ctx: S3Context, filter: DeadLetterFilter): Promise<DeadLetter[]> {
  const listed = await listDead(ctx, filter)
  const letters = await mapLimit(listed, ctx.concurrency, async (object): Promise<DeadLetter | undefined> => {
    const header = await readHeader(ctx, object.key, isDeadHeader)
    if (!header) return undefined
    return deadLetterOf(
      header.meta,
      {
        eventId: header.meta.id,
        destination: header.destination,
        receivedAt: header.meta.receivedAt,
        since: header.meta.receivedAt,
        attempts: header.attempts,
        nextAt: 0,
      },
      header.deadAt,
    )
  })
  return letters
    .filter((letter): letter is DeadLetter => letter !== undefined && matchesFilter(letter, filter))
    .sort((a, b) => a.deadAt - b.deadAt)
}

export async function replayDeadLetters(ctx: S3Context, filter: DeadLetterFilter): Promise<number> {
  const { keys, objects, log, now } = ctx
  const listed = await listDead(ctx, filter)
  let count = 0
  for (const object of listed) {
    const letter = await readFramed(ctx, object.key, isDeadHeader).catch((error: unknown) => {
      log.warn('an unreadable dead letter in the S3 queue; left as it is', { key: object.key, error: errorText(error) })
      return undefined
    })
    if (!letter) continue
    const { meta, destination } = letter.header
    const copy = newCopyId(meta.receivedAt)
    const copyKey = keys.copy(meta.id, copy)
    await objects.put(copyKey, frame({ meta, group: [destination] } satisfies CopyHeader, letter.body))
    const state = newDelivery({
      eventId: meta.id,
      destination,
      copy,
      group: [destination],
      receivedAt: meta.receivedAt,
      since: now(),
      nextAt: 0,
    })
    if (await createDelivery(ctx, state)) count++
    else await objects.delete(copyKey) // pending already (another replay, or a repeat of the hook)
    // Only this version: a dead letter written again meanwhile (replayed, failed again) stays.
    await objects.delete(object.key, letter.etag)
  }
  if (count > 0) ctx.wake()
  return count
}
