/**
 * Changes to stream records, written together: while a write of a stream is under way, the changes that come for
 * it wait, and the next turn applies them all, in order, to one read of the record and writes it once. A busy
 * stream costs a write per turn instead of one per hook, and changes in one process never collide in the store's
 * compare-and-set (other instances' still may: updateWithRetry applies every waiting change again).
 * @module
 */
import { updateWithRetry, type StreamStore, type UpdateOptions, type VersionedRecord } from './stream-store.ts'
import type { StreamRecord } from './stream-types.ts'

/** Changes the record, or returns `false` when it changed nothing. Depends only on the record: it may run again. */
export type StreamChange = (record: StreamRecord) => void | false

/**
 * True when the change would change nothing on this record; reads it only (it may be the store's own). When every
 * change of a turn says so of the stored record, read without a copy where the store can (`peek`), the turn ends
 * there: a hook that changes nothing on a busy stream costs no copy of a record that may hold hundreds of feeds.
 */
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

/**
 * Each change resolves once the write holding it is done, with what was written then (including the changes applied
 * after it in the same turn; when the turn wrote nothing, what it read, never to be changed). A change that needs
 * the record as it left it takes its own copy in `apply`.
 */
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
