/**
 * Changes to stream records, one stream at a time in this process, written together: while one write of a stream
 * is under way, the changes that come for it wait, and the next turn applies all of them, in order, to one read of
 * the record and writes it once. A busy stream (many feeds, hooks arriving together) costs a write per turn instead
 * of a write per hook, and changes in one process never collide in the store's compare-and-set (other instances
 * still may: updateWithRetry reads again and applies every waiting change again).
 *
 * Each change resolves once the write holding it is done, with what was written then (which includes the changes
 * applied after it in the same turn; when the turn wrote nothing, what it read, to look at and never change). A
 * change that needs the record as it left it takes its own copy in `apply`.
 *
 * A change may say up front when it would change nothing (`unchangedOn`): when every change of a turn says so of
 * the stored record, read without a copy where the store can (`peek`), the turn ends there. A hook that changes
 * nothing on a busy stream (a new feed of a stream whose every feed slot is taken) then costs no copy of a record
 * that may hold hundreds of feeds.
 * @module
 */
import { updateWithRetry, type StreamStore, type UpdateOptions, type VersionedRecord } from './stream-store.ts'
import type { StreamRecord } from './stream-types.ts'

/** Changes the record, or returns `false` when it changed nothing (must depend only on the record: it may run again). */
export type StreamChange = (record: StreamRecord) => void | false

/** True when the change would change nothing on this record; reads it only (it may be the store's own). */
type UnchangedCheck = (record: Readonly<StreamRecord>) => boolean

export interface ChangeOptions extends UpdateOptions {
  unchangedOn?: UnchangedCheck
}

export type ChangeStream = (
  streamId: string,
  apply: StreamChange,
  options?: ChangeOptions,
) => Promise<VersionedRecord | undefined>

interface Turn {
  /** Changes with the same options share a turn. */
  key: string
  changes: StreamChange[]
  /** Each change's check, when every change so far has one (else undefined: the turn reads and writes). */
  checks: UnchangedCheck[] | undefined
  result: Promise<VersionedRecord | undefined>
}

export function streamChanges(store: StreamStore, now: () => number): ChangeStream {
  /** Per stream, the turn that has not started yet (the one new changes join). */
  const waiting = new Map<string, Turn>()
  /** Per stream, the end of the last turn queued. */
  const tails = new Map<string, Promise<unknown>>()

  return (streamId, apply, options = {}) => {
    const { unchangedOn, ...update } = options
    const key = `${update.existing === true}/${update.lazy === true}`
    let turn = waiting.get(streamId)
    if (!turn || turn.key !== key) {
      const next: Turn = { key, changes: [], checks: store.peek ? [] : undefined, result: undefined! }
      const run = async () => {
        if (waiting.get(streamId) === next) waiting.delete(streamId)
        if (next.checks) {
          const stored = await store.peek!(streamId)
          if (stored && next.checks.every((unchanged) => unchanged(stored.record))) return stored
        }
        return updateWithRetry(store, streamId, (record) => applyAll(next.changes, record), { now, ...update })
      }
      next.result = (tails.get(streamId) ?? Promise.resolve()).then(run, run)
      const tail = next.result.catch(() => {})
      tails.set(streamId, tail)
      void tail.then(() => {
        if (tails.get(streamId) === tail) tails.delete(streamId)
      })
      waiting.set(streamId, next)
      turn = next
    }
    turn.changes.push(apply)
    if (unchangedOn) turn.checks?.push(unchangedOn)
    else turn.checks = undefined
    return turn.result
  }
}

function applyAll(changes: StreamChange[], record: StreamRecord): void | false {
  let changed = false
  for (const change of changes) if (change(record) !== false) changed = true
  if (!changed) return false
}
