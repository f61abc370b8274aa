/**
 * A stream tracker on an injected clock for tests: its checks wait in a list (deduplicated by id, as the queue does)
 * and run when the test moves the clock past them; the hooks it is given are parsed as the gateway would, received at
 * the clock's time.
 */
import { DeliveryDeferred } from '../../src/destinations/types.ts'
import type { HookEvent } from '../../src/events/types.ts'
import { parseJsonHook, parseThumbnail } from '../../src/events/parse.ts'
import type { Logger } from '../../src/log.ts'
import { silentLogger } from '../../src/log.ts'
import type { PictureAnalysis } from '../../src/health/picture.ts'
import { HEALTH_DEFAULTS, type HealthSettings } from '../../src/streams/health-rules.ts'
import type { StreamStore } from '../../src/streams/stream-store.ts'
import { createStreamTracker, type StreamTracker } from '../../src/streams/tracker.ts'
import { signedThumbnail } from '../support/hooks.ts'

/** The test's start: now (stores stamp `updatedAt` with the real clock), on a whole second. */
export const T0 = Math.floor(Date.now() / 1_000) * 1_000

export interface Clock {
  now: number
}

export interface ClockedTracker {
  tracker: StreamTracker
  emitted: HookEvent[]
  /** Health events and analysis outcomes counted through the tracker's hooks. */
  counts: Map<string, number>
  /** Moves the clock on by `ms`, running each check due by then (and those they put) at its time. */
  advance(ms: number): Promise<void>
  feed(event: 'started' | 'ended', feedId: string, at?: number, extra?: Record<string, unknown>): Promise<HookEvent>
  thumbnail(jpeg: Uint8Array, options?: { feedId?: string; at?: number }): Promise<HookEvent>
  /** The last hook given (one whose delivery failed, to deliver again). */
  last(): HookEvent
  /** Delivers a hook again, the last one by default (a redelivery after a failed attempt or a crash). */
  redeliver(event?: HookEvent): Promise<void>
  /** Any other hook of the stream (a viewer connecting). */
  other(type: string, event: string): Promise<void>
  /** The stream events handed on, as `event` or `event:problem`, each id once. */
  stream(): string[]
  close(): Promise<void>
}

export interface ClockedOptions {
  store: StreamStore
  clock: Clock
  streamId: string
  /** Shared by instances of one test: a check goes to whichever tracker runs `advance`. */
  checks?: Array<{ check: HookEvent; at: number }>
  emitted?: HookEvent[]
  health?: HealthSettings | false
  endAfterSilenceMs?: number
  thumbnailWaitMs?: number
  analyse?(jpeg: Uint8Array): Promise<PictureAnalysis>
  log?: Logger
  /** Failures to come: each count > 0 fails that many of the next emits or check puts (the queue unreachable). */
  faults?: { emit: number; check: number }
}

export function clockedTracker(options: ClockedOptions): ClockedTracker {
  const { clock, streamId } = options
  const checks = options.checks ?? []
  const emitted = options.emitted ?? []
  const counts = new Map<string, number>()
  const count = (what: string) => counts.set(what, (counts.get(what) ?? 0) + 1)
  const faults = options.faults ?? { emit: 0, check: 0 }
  const health = options.health === false ? undefined : (options.health ?? HEALTH_DEFAULTS)
  const tracker = createStreamTracker({
    store: options.store,
    flapWindowMs: 60_000,
    endAfterSilenceMs: options.endAfterSilenceMs ?? 600_000,
    thumbnailWaitMs: options.thumbnailWaitMs ?? 45_000,
    ...(health ? { health } : {}),
    ...(options.analyse ? { analyse: options.analyse } : {}),
    now: () => clock.now,
    emit: async (event) => {
      if (faults.emit > 0 && faults.emit--) throw new Error('the queue is unreachable')
      emitted.push(event)
    },
    scheduleCheck: async (check, at) => {
      if (faults.check > 0 && faults.check--) throw new Error('the queue is unreachable')
      if (!checks.some((waiting) => waiting.check.id === check.id)) checks.push({ check, at })
    },
    log: options.log ?? silentLogger,
    onHealth: (event) => count(`health:${event}`),
    onAnalysis: (outcome) => count(`analysis:${outcome}`),
  })
  let last: HookEvent | undefined
  const deliver = async (event: HookEvent) => {
    last = event
    if (tracker.wants(event)) await tracker.deliver(event)
  }
  const accountId = streamId.split('/')[0]
  const name = streamId.split('/')[1]
  return {
    tracker,
    emitted,
    counts,
    async advance(ms) {
      const until = clock.now + ms
      for (;;) {
        // The earliest check due by then runs at its own time, as the queue would deliver it.
        const due = checks.filter((waiting) => waiting.at <= until).sort((a, b) => a.at - b.at)[0]
        if (!due) break
        checks.splice(checks.indexOf(due), 1)
        clock.now = Math.max(clock.now, due.at)
        try {
          await tracker.deliver(due.check)
        } catch (error) {
          if (!(error instanceof DeliveryDeferred)) throw error
          checks.push({ check: due.check, at: error.until })
        }
      }
      clock.now = until
    },
    async feed(event, feedId, at = clock.now, extra = {}) {
      const payload = {
        type: 'feeds',
        event,
        timestamp: at + 5,
        data: { feedId, accountId, name, streamId, active: event === 'started', [event]: at, ...extra },
      }
      const body = new TextEncoder().encode(JSON.stringify(payload))
      const hook = await parseJsonHook(body, { source: 'millicast', receivedAt: clock.now })
      await deliver(hook)
      return hook
    },
    last: () => last!,
    redeliver: (event = last!) => deliver(event),
    async thumbnail(jpeg, { feedId = 'f1', at = clock.now - 500 } = {}) {
      const hook = await signedThumbnail({ body: jpeg, streamId, feedId, timestamp: at })
      const event = await parseThumbnail(hook.body, new Headers(hook.headers), {
        source: 'millicast',
        receivedAt: clock.now,
      })
      await deliver(event)
      return event
    },
    async other(type, event) {
      const payload = { type, event, timestamp: clock.now, data: { name, accountId, streamId } }
      const body = new TextEncoder().encode(JSON.stringify(payload))
      await deliver(await parseJsonHook(body, { source: 'millicast', receivedAt: clock.now }))
    },
    stream() {
      const seen = new Set<string>()
      const out: string[] = []
      for (const e of emitted) {
        if (e.streamId !== streamId || seen.has(e.id)) continue
        seen.add(e.id)
        const problem = e.data?.problem
        out.push(typeof problem === 'string' && e.event === 'recovered' ? `recovered:${problem}` : e.event)
      }
      return out
    },
    close: async () => {
      await tracker.close?.()
    },
  }
}
