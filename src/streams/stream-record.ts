/**
 * Stream records as data: a fresh one, one read back from JSON (checked, maps without a prototype), and a private
 * copy. Stores hand out copies, so a record changes only through a compare-and-set `put`.
 * @module
 */
import { dict, type EmitClaim, type StreamHealth, type StreamRecord, type ThumbnailRef } from './stream-types.ts'

/** The record of a stream hookcast has not seen yet. */
export function freshRecord(streamId: string, now: number): StreamRecord {
  return { streamId, status: 'ended', feeds: dict(), alerts: dict(), emitted: {}, updatedAt: now }
}

/**
 * A record read back from JSON (a file, a KV value), or undefined when it is not one. Input maps (feeds by feed id,
 * alerts by notifier and session) become null-prototype objects, so `__proto__` is a key like any other.
 */
export function normaliseRecord(raw: unknown, now: number): StreamRecord | undefined {
  if (!raw || typeof raw !== 'object' || typeof (raw as StreamRecord).streamId !== 'string') return undefined
  const record = raw as StreamRecord
  if (record.status !== 'live' && record.status !== 'ending' && record.status !== 'ended') record.status = 'ended'
  record.feeds = copyDict(record.feeds, (feed) =>
    feed && typeof feed === 'object' ? (feed as StreamRecord['feeds'][string]) : undefined,
  )
  record.alerts = copyDict(record.alerts, (sessions) =>
    copyDict(sessions, (alert) => copyDict(alert, (v) => (typeof v === 'string' ? v : undefined))),
  )
  if (!record.emitted || typeof record.emitted !== 'object') record.emitted = {}
  if (record.emitting !== undefined) {
    const emitting: NonNullable<StreamRecord['emitting']> = {}
    for (const kind of ['live', 'health', 'ended'] as const) {
      const claim = isClaim(record.emitting?.[kind]) ? record.emitting![kind] : undefined
      if (claim) emitting[kind] = { session: claim.session, by: claim.by, at: claim.at }
    }
    if (emitting.live || emitting.health || emitting.ended) record.emitting = emitting
    else delete record.emitting
  }
  if (record.health !== undefined && !isHealth(record.health)) delete record.health
  const wake = record.wake
  if (wake !== undefined && !(typeof wake?.at === 'number' && typeof wake.by === 'string')) delete record.wake
  if (typeof record.updatedAt !== 'number') record.updatedAt = now
  return record
}

/**
 * A deep, private copy (null-prototype maps kept). Field by field rather than through JSON: a store copies a record
 * on every read and write, and a stream with many feeds made the JSON round trip the tracker's largest cost.
 */
export function cloneRecord(record: StreamRecord): StreamRecord {
  const copy: StreamRecord = { ...record, feeds: dict(), alerts: dict(), emitted: { ...record.emitted } }
  for (const id of Object.keys(record.feeds)) copy.feeds[id] = { ...record.feeds[id] }
  for (const notifier of Object.keys(record.alerts)) {
    const sessions = dict<Record<string, string>>()
    for (const session of Object.keys(record.alerts[notifier]!))
      sessions[session] = Object.assign(dict<string>(), record.alerts[notifier]![session])
    copy.alerts[notifier] = sessions
  }
  if (record.wake) copy.wake = { ...record.wake }
  if (record.emitting) {
    copy.emitting = {}
    for (const kind of ['live', 'health', 'ended'] as const)
      if (record.emitting[kind]) copy.emitting[kind] = { ...record.emitting[kind] }
  }
  // Plain data of a few kilobytes (a grid, a handful of notices), changed only by a tracker's write.
  if (record.health) copy.health = structuredClone(record.health)
  if (record.firstThumbnail)
    copy.firstThumbnail = { ...record.firstThumbnail, event: { ...record.firstThumbnail.event } }
  if (record.latestThumbnail)
    copy.latestThumbnail = { ...record.latestThumbnail, event: { ...record.latestThumbnail.event } }
  return copy
}

/**
 * Every thumbnail the record refers to (first, latest, and those its health shows): a store keeps their bytes while
 * it does.
 */
export function thumbnailRefs(record: StreamRecord | undefined): ThumbnailRef[] {
  if (!record) return []
  const refs = [record.firstThumbnail, record.latestThumbnail, ...(record.health?.shown ?? [])]
  for (const problem of Object.values(record.health?.open ?? {})) refs.push(problem?.thumbnail)
  return refs.filter((ref): ref is ThumbnailRef => ref !== undefined)
}

/** The record without its thumbnails (a store that gives up their bytes for other streams'). */
export function withoutThumbnails(record: StreamRecord): StreamRecord {
  const { firstThumbnail: _first, latestThumbnail: _latest, ...kept } = record
  if (!kept.health) return kept
  const open: StreamHealth['open'] = {}
  for (const [problem, found] of Object.entries(kept.health.open)) {
    const { thumbnail: _shown, ...rest } = found
    open[problem as keyof StreamHealth['open']] = rest
  }
  return { ...kept, health: { ...kept.health, open, shown: [] } }
}

/** A health state read back from JSON: the shape the rules need, else dropped (a fresh one is made). */
function isHealth(value: unknown): value is StreamHealth {
  const health = value as StreamHealth
  return (
    !!health &&
    typeof health === 'object' &&
    typeof health.session === 'string' &&
    typeof health.seq === 'number' &&
    !!health.open &&
    typeof health.open === 'object' &&
    Array.isArray(health.outbox) &&
    Array.isArray(health.shown)
  )
}

function isClaim(value: unknown): value is EmitClaim {
  const claim = value as EmitClaim | undefined
  return (
    !!claim &&
    typeof claim === 'object' &&
    typeof claim.session === 'string' &&
    typeof claim.by === 'string' &&
    typeof claim.at === 'number'
  )
}

/** A null-prototype copy of a JSON object, each value passed through `each` (undefined drops it). */
function copyDict<T>(value: unknown, each: (value: unknown) => T | undefined): Record<string, T> {
  const out = dict<T>()
  if (!value || typeof value !== 'object' || Array.isArray(value)) return out
  for (const [key, item] of Object.entries(value)) {
    const kept = each(item)
    if (kept !== undefined) out[key] = kept
  }
  return out
}
