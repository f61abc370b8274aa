/**
 * Any other hook of a stream (media, viewer connections) is a sign of life: it moves the stream's `lastHeardAt`, so
 * a live session is not ended by silence while the platform still talks about it. Cheap on a busy stream: no write
 * while the stored time is within the lag silence-rules.ts allows, a lazy one past it, none for a stream not tracked.
 * @module
 */
import type { HookEvent } from '../events/types.ts'
import { heardIsNews, noteHeard } from './silence-rules.ts'
import type { TrackerContext } from './tracker-context.ts'

/** Says the stream is offline (a viewer found no stream): not a sign of life. */
const NOT_HEARD = new Set(['viewerattempt'])

/** Whether a hook other than feeds and thumbnails counts as hearing from its stream. */
export function isSignOfLife(event: HookEvent): boolean {
  return event.streamId !== undefined && !NOT_HEARD.has(event.event.toLowerCase())
}

export async function trackHeard(ctx: TrackerContext, event: HookEvent): Promise<void> {
  const silenceMs = ctx.settings.endAfterSilenceMs
  const at = event.receivedAt
  if (!event.streamId || silenceMs === undefined) return
  await ctx.change(
    event.streamId,
    (r) => {
      if (!heardIsNews(r, at, silenceMs)) return false
      noteHeard(r, at)
    },
    { existing: true, lazy: true, unchangedOn: (r) => !heardIsNews(r, at, silenceMs) },
  )
}
