/**
 * Retention for sinks: keep the newest N objects per stream and/or drop those older than a max age, so a 24/7 stream
 * (2,880 thumbnails a day) stays bounded. A stream's objects are those under its scope, the key's folders up to the one
 * named by `{streamId}` or `{streamName}`: keys give each stream a folder of its own at one depth, so a scope never
 * holds another stream's objects. After a put the scope is listed and the surplus removed, at most once per
 * `sweepEvery`, never the objects just written; a failed sweep is logged and never fails the delivery.
 * @module
 */
import type { HookEvent } from '../events/types.ts'
import { renderKeyFolders } from '../template/key.ts'
import type { Logger } from '../log.ts'
import { retentionProblems, scopeTemplate, type RetentionConfig } from '../config/retention.ts'

export interface StoredObject {
  key: string
  /** Last-modified time, epoch ms. */
  modified: number
}

/**
 * The keys retention removes: past the newest `keepLatest`, or older than `maxAge`, never one in `keep`.
 * Newest first by modified time, then by key descending, so keys starting with a timestamp break ties (S3 keeps
 * times to the second) and every process agrees on the order.
 */
export function expiredKeys(
  objects: readonly StoredObject[],
  rules: Pick<RetentionConfig, 'keepLatest' | 'maxAge'>,
  now: number,
  keep: { has(key: string): boolean },
): string[] {
  const newestFirst = [...objects].sort(
    (a, b) => b.modified - a.modified || (a.key < b.key ? 1 : a.key > b.key ? -1 : 0),
  )
  const cutoff = rules.maxAge === undefined ? -Infinity : now - rules.maxAge
  return newestFirst
    .filter(
      (object, rank) =>
        !keep.has(object.key) &&
        ((rules.keepLatest !== undefined && rank >= rules.keepLatest) || object.modified < cutoff),
    )
    .map((object) => object.key)
}

/** What a sink provides so retention can work on it. */
export interface RetentionStore {
  /** Every object under `prefix` (a folder path ending in `/`), at any depth. */
  list(prefix: string): Promise<StoredObject[]>
  /** Removes the objects; keys already gone are not an error. */
  remove(keys: string[], prefix: string): Promise<void>
}

export interface Retention {
  /** Called after `key` was stored for `event`; resolves when a sweep it started or joined is done. Never rejects. */
  afterPut(event: HookEvent, key: string): Promise<void>
}

interface ScopeState {
  /** When the last sweep started; throttles the next. */
  lastSweep: number
  running?: Promise<void> | undefined
  /** One follow-up sweep shared by every put that arrived while a sweep was running. */
  queued?: Promise<void> | undefined
  /** Keys written by the puts waiting for the next sweep: that sweep must not remove them. */
  protect: Set<string>
}

/** Beyond this many streams, idle per-stream states are forgotten (they only hold the throttle time). */
const MAX_SCOPES = 10_000

/**
 * Removals per sweep, oldest first. A sweep runs inside a delivery and its timeout, so a backlog (retention turned on
 * over a full folder) is worked off by the next puts, one bounded sweep each, instead of in one long one.
 */
export const MAX_REMOVALS_PER_SWEEP = 1000

export function createRetention(
  config: RetentionConfig,
  keyTemplate: string,
  store: RetentionStore,
  context: { sink: string; log: Logger; now: () => number },
): Retention {
  const scope = scopeTemplate(keyTemplate)
  if (scope === undefined) throw new Error(retentionProblems(keyTemplate, config)[0])
  const scopeSegments = scope.split('/').length
  const { sink, log, now } = context
  const scopes = new Map<string, ScopeState>()

  async function sweep(prefix: string, state: ScopeState, own: ReadonlySet<string>): Promise<void> {
    // Spare the keys of this sweep's puts and of puts that finished while it runs (they wait for the next sweep).
    const keep = { has: (key: string) => own.has(key) || state.protect.has(key) }
    try {
      const objects = await store.list(prefix)
      const expired = expiredKeys(objects, config, now(), keep).filter((key) => !keep.has(key))
      if (expired.length === 0) return
      const doomed = expired.slice(-MAX_REMOVALS_PER_SWEEP)
      // More left: the next put of this stream sweeps again, whatever sweepEvery says.
      if (doomed.length < expired.length) state.lastSweep = -Infinity
      await store.remove(doomed, prefix)
      log.info('retention removed objects', {
        sink,
        prefix,
        removed: doomed.length,
        left: expired.length - doomed.length,
      })
    } catch (error) {
      log.warn('retention sweep failed; the event itself was stored', {
        sink,
        prefix,
        error: (error as Error).message ?? String(error),
      })
    }
  }

  function start(prefix: string, state: ScopeState): Promise<void> {
    state.lastSweep = now()
    const own = state.protect
    state.protect = new Set()
    state.running = sweep(prefix, state, own).finally(() => {
      state.running = undefined
    })
    return state.running
  }

  function stateFor(prefix: string): ScopeState {
    let state = scopes.get(prefix)
    if (state) return state
    if (scopes.size >= MAX_SCOPES) {
      for (const [other, idle] of scopes) {
        if (!idle.running && !idle.queued) scopes.delete(other)
        if (scopes.size < MAX_SCOPES / 2) break
      }
    }
    state = { lastSweep: -Infinity, protect: new Set() }
    scopes.set(prefix, state)
    return state
  }

  return {
    async afterPut(event, key) {
      if (config.types && !config.types.includes(event.type)) return
      // The stream's folder as the event's key has it (a long key may have shortened it).
      const prefix = `${renderKeyFolders(keyTemplate, scopeSegments, event)}/`
      const state = stateFor(prefix)
      if (now() - state.lastSweep < config.sweepEvery) return
      state.protect.add(key)
      if (!state.running) return start(prefix, state)
      state.queued ??= state.running.then(() => {
        state.queued = undefined
        return start(prefix, state)
      })
      return state.queued
    },
  }
}
