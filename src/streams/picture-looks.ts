/**
 * Looking at a live session's thumbnails, in the tracker's delivery (never on the accept path): one picture
 * analyser per process, at most one analysis per stream at a time, and a thumbnail older than the last one looked
 * at is skipped. When thumbnails come faster than they can be looked at, they are skipped and counted, never
 * queued. A thumbnail that cannot be decoded is counted and logged once per stream and session, never retried.
 * @module
 */
import type { Logger } from '../log.ts'
import type { PictureAnalysis, PictureSample } from '../health/picture.ts'

export type AnalysisOutcome = 'analysed' | 'skipped_busy' | 'skipped_stale' | 'undecodable' | 'unavailable'

export interface PictureLooks {
  /** The thumbnail's picture, or undefined when it was not looked at (counted). */
  look(thumbnail: LookedAt, jpeg: Uint8Array): Promise<PictureSample | undefined>
}

interface LookedAt {
  streamId: string
  session: string
  eventId: string
  timestamp: number
  /** The thumbnail time of the last picture of the session looked at. */
  lastLookedAt: number | undefined
}

/** Streams whose undecodable thumbnails were logged, at most (then forgotten, and logged again). */
const WARNED_MAX = 1_000

export function pictureLooks(options: {
  analyse(jpeg: Uint8Array): Promise<PictureAnalysis>
  log: Logger
  count(outcome: AnalysisOutcome): void
}): PictureLooks {
  const { analyse, log, count } = options
  const busy = new Set<string>()
  /** By stream, the session whose undecodable thumbnail was logged. */
  const warned = new Map<string, string>()
  const skip = (outcome: AnalysisOutcome) => {
    count(outcome)
    return undefined
  }
  return {
    async look(thumbnail, jpeg) {
      const { streamId, session } = thumbnail
      if (thumbnail.lastLookedAt !== undefined && thumbnail.timestamp <= thumbnail.lastLookedAt)
        return skip('skipped_stale')
      if (busy.has(streamId)) return skip('skipped_busy')
      busy.add(streamId)
      let result: PictureAnalysis
      try {
        result = await analyse(jpeg)
      } finally {
        busy.delete(streamId)
      }
      if ('grid' in result) {
        count('analysed')
        return result
      }
      if ('skipped' in result) return skip('skipped_busy')
      if ('unavailable' in result) return skip('unavailable') // the analyser logs it once
      if (warned.get(streamId) !== session) {
        if (warned.size >= WARNED_MAX) warned.clear()
        warned.set(streamId, session)
        log.warn("a thumbnail cannot be decoded; its stream's picture is not judged by it", {
          stream: streamId,
          id: thumbnail.eventId,
          reason: result.undecodable,
        })
      }
      return skip('undecodable')
    },
  }
}
