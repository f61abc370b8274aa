/**
 * Changes to stream records, one stream at a time in this process, written together: while one write of a stream
 * is under way, the changes that come for it wait, and the next turn applies all of them, in order, to one read of
 * the record and writes it once. A busy stream (many feeds, hooks arriving together) costs a write per turn instead
 * of a write per hook, and changes in one process never collide in the store's compare-and-set (other instances
 * still may: updateWithRetry reads again and applies every waiting change again).
 *
 * Each change resolves once the write holding it is done, with what was written then (which includes the changes
 * applied after it in the same turn). A change that needs the record as it left it takes its own copy in `apply`.
 * @module
 */
import { updateWithRetry, type StreamStore, type UpdateOptions, type VersionedRecord } from '../state/stream-store.ts'
import type { StreamRecord } from './types.ts'

/** Changes the record, or returns `false` when it changed nothing (must depend only on the record: it may run again). */
export type StreamChange = (record: StreamRecord) => void | false

export type ChangeStream = (streamId: string, apply: StreamChange, options?: UpdateOptions) => Promise<VersionedRecord | undefined>

interface Turn {
  /** Changes with the same options share a turn. */
  key: string
  changes: StreamChange[]
  result: Promise<VersionedRecord | undefined>
}

export function streamChanges(store: StreamStore, now: () => number): ChangeStream {
  /** Per stream, the turn that has not started yet (the one new changes join). */
  const waiting = new Map<string, Turn>()
  /** Per stream, the end of the last turn queued. */
  const tails = new Map<string, Promise<unknown>>()

  return (streamId, apply, options = {}) => {
    const key = `${options.existing === true}/${options.lazy === true}`
    let turn = waiting.get(streamId)
    if (!turn || turn.key !== key) {
      const next: Turn = { key, changes: [], result: undefined! }
      const run = () => {
        if (waiting.get(streamId) === next) waiting.delete(streamId)
        return updateWithRetry(store, streamId, (record) => applyAll(next.changes, record), { now, ...options })
      }
      next.result = (tails.get(streamId) ?? Promise.resolve()).then(run, run)
      const tail = next.result.catch(() => {})
      tails.set(streamId, tail)
      void tail.then(() => { if (tails.get(streamId) === tail) tails.delete(streamId) })
      waiting.set(streamId, next)
      turn = next
    }
    turn.changes.push(apply)
    return turn.result
  }
}

function applyAll(changes: StreamChange[], record: StreamRecord): void | false {
  let changed = false
  for (const change of changes) if (change(record) !== false) changed = true
  if (!changed) return false
}
