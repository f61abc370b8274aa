/**
 * What the tracker's steps share: the stream store and its changes (one write of a stream at a time in this
 * process), the clock, the settings, the ways out (stream events to the pipeline, checks to the queue), how it looks
 * at pictures, and how a step reports what it did or could not do. Built once by createStreamTracker.
 * @module
 */
import type { HookEvent } from '../events/types.ts'
import type { Logger } from '../log.ts'
import { checkEvent, type Check } from './check-event.ts'
import type { StoreReport } from './store-report.ts'
import type { ChangeOptions, ChangeStream, StreamChange } from './stream-changes.ts'
import type { StreamStore, VersionedRecord } from './stream-store.ts'
import { StreamLimitError, type HealthEventName } from './stream-types.ts'
import type { StreamSettings } from './next-check.ts'
import type { PictureLooks } from './picture-looks.ts'

export interface TrackerContext {
  store: StreamStore
  /** Changes a stream's record, batched with the changes that wait for the same stream (stream-changes.ts). */
  change: ChangeStream
  log: Logger
  now: () => number
  settings: StreamSettings
  /** Background failures and bounds hit, logged and counted. */
  report: StoreReport
  /** Looks at a live session's thumbnails (when picture health is on). */
  looks?: PictureLooks
  /** Counts a health event handed on. */
  onHealth(event: HealthEventName): void
  /** Hands a stream event to the pipeline; resolves once it is accepted. */
  emit(event: HookEvent): Promise<void>
  /** Puts a check event in the queue for the tracker alone, not to be delivered before `at`. */
  putCheck(check: HookEvent, at: number): Promise<void>
}

/** Runs a change that may create the record; a refusal (limits) means the stream is not tracked: undefined. */
export async function changeOrCreate(
  ctx: TrackerContext,
  streamId: string,
  apply: StreamChange,
  extra?: ChangeOptions,
): Promise<VersionedRecord | undefined> {
  try {
    return await ctx.change(streamId, apply, extra)
  } catch (error) {
    if (!(error instanceof StreamLimitError)) throw error
    ctx.log.warn('stream not tracked', { stream: streamId.slice(0, 100), reason: error.message })
    return undefined
  }
}

/** Puts `check` in the queue, to come back to the tracker at `check.at`. */
export async function scheduleCheck(ctx: TrackerContext, check: Check): Promise<void> {
  return ctx.putCheck(await checkEvent(check, ctx.now()), check.at)
}
