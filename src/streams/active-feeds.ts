/**
 * A feed is active between its `started` and its `ended` hook; a stream is live while one of its feeds is.
 * @module
 */
import type { FeedState, StreamRecord } from './stream-types.ts'

export function isActive(feed: FeedState): boolean {
  return feed.started !== undefined && feed.ended === undefined
}

/** Ids of the stream's active feeds. */
export function activeFeedIds(record: Pick<StreamRecord, 'feeds'>): string[] {
  return Object.entries(record.feeds)
    .filter(([, feed]) => isActive(feed))
    .map(([id]) => id)
}
