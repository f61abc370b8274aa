/**
 * Sweeping: event copies no delivery refers to (a put that died half-way) once older than `orphanAgeMs`, and dedup
 * markers older than the window. One sweep at a time per process; claims start one every `sweepEveryMs`.
 * @module
 */
import { mapLimit, readHeader, type S3Context } from './queue-context.ts'
import { listAll } from './objects.ts'
import { decodeDelivery, isCopyHeader } from './delivery-objects.ts'
import { errorText } from '../../util/error-text.ts'

export interface S3QueueSweepResult {
  /** Event copies removed (no delivery referred to them). */
  copies: number
  /** Dedup markers removed (older than the window). */
  markers: number
}

async function sweepOnce(ctx: S3Context, orphanAgeMs: number): Promise<S3QueueSweepResult> {
  const { keys, objects, now } = ctx
  const result: S3QueueSweepResult = { copies: 0, markers: 0 }
  const cutoff = now() - orphanAgeMs
  const old = (await listAll(ctx.objects, keys.copies())).filter((object) => object.lastModified < cutoff)
  await mapLimit(old, ctx.concurrency, async (object) => {
    const parsed = keys.parseCopy(object.key)
    const header = parsed && (await readHeader(ctx, object.key, isCopyHeader))
    if (!parsed || !header) return
    const refs = await Promise.all(
      header.group.map((destination) => objects.get(keys.delivery(destination, parsed.eventId))),
    )
    if (refs.some((got) => got && (decodeDelivery(got.body)?.copy ?? parsed.copy) === parsed.copy)) return
    await objects.delete(object.key)
    result.copies++
  })
  const expired = (await listAll(ctx.objects, keys.seenAll())).filter(
    (object) => object.lastModified < now() - ctx.windowMs,
  )
  await mapLimit(expired, ctx.concurrency, async (object) => {
    // Only that version: a marker written again meanwhile stays. 'missing': gone already (a retried delete).
    if ((await objects.delete(object.key, object.etag)) !== 'conflict') result.markers++
  })
  if (result.copies > 0)
    ctx.log.warn('removed event copies that no delivery referred to from the S3 queue', { ...result })
  return result
}

interface S3QueueSweeper {
  /** Sweeps now (or joins the sweep under way). */
  sweep(): Promise<S3QueueSweepResult>
  /** Starts a sweep in the background when one is due (errors logged). */
  maybeSweep(): void
  /** The sweep under way, if any. */
  running(): Promise<S3QueueSweepResult> | undefined
}

export function s3QueueSweeper(
  ctx: S3Context,
  settings: { orphanAgeMs: number; sweepEveryMs: number },
): S3QueueSweeper {
  const { now, log } = ctx
  const { orphanAgeMs, sweepEveryMs } = settings
  let sweeping: Promise<S3QueueSweepResult> | undefined
  let nextSweepAt = now() + sweepEveryMs
  return {
    sweep: () =>
      (sweeping ??= sweepOnce(ctx, orphanAgeMs).finally(() => {
        sweeping = undefined
      })),
    maybeSweep() {
      if (sweepEveryMs <= 0 || sweeping || now() < nextSweepAt) return
      nextSweepAt = now() + sweepEveryMs
      sweeping = sweepOnce(ctx, orphanAgeMs)
        .catch((error) => {
          log.warn('cannot sweep the S3 queue; trying again later', { error: errorText(error) })
          return { copies: 0, markers: 0 }
        })
        .finally(() => {
          sweeping = undefined
        })
    },
    running: () => sweeping,
  }
}
