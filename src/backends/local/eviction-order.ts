/**
 * Which ended streams give up their place first when the local stream store is full (of records or of thumbnail
 * bytes), and which the sweep looks at: first those that never went live (known only from thumbnails, whose headers
 * are not signed), then those whose session is over; oldest change first in each. Live and ending streams are in
 * neither: they never give up their place.
 * @module
 */
import type { StreamRecord } from '../../streams/stream-types.ts'

export interface EvictionOrder {
  /** Moves a changed record to the end of its group (or out of both when it is live or ending). */
  touch(record: StreamRecord): void
  drop(streamId: string): void
  /** The first stream to give up its place, if any. */
  first(): string | undefined
  /** Every ended stream in the order they give up their place (a copy: safe to change the store meanwhile). */
  all(): Array<{ streamId: string; hadSession: boolean }>
}

export function evictionOrder(): EvictionOrder {
  const spare = new Set<string>()
  const over = new Set<string>()
  const drop = (streamId: string) => {
    spare.delete(streamId)
    over.delete(streamId)
  }
  return {
    touch(record) {
      drop(record.streamId)
      if (record.status === 'ended') (record.session ? over : spare).add(record.streamId)
    },
    drop,
    first: () => spare.values().next().value ?? over.values().next().value,
    all: () => [
      ...[...spare].map((streamId) => ({ streamId, hadSession: false })),
      ...[...over].map((streamId) => ({ streamId, hadSession: true })),
    ],
  }
}
