/**
 * The tracker's delayed checks for tests: each is delivered to a tracker at its time, as the queue would deliver
 * it (a deferral waits until its time, another failure is retried a second later). As a queue shared by several
 * instances, a check put again while the first is still to come is one delivery (the queue's dedup by event id).
 */
import { DeliveryDeferred } from '../../src/destinations/types.ts'
import type { HookEvent } from '../../src/events/types.ts'

export interface TimedChecks {
  scheduleCheck(check: HookEvent, at: number): Promise<void>
  /** Every check scheduled, in order. */
  scheduled: Array<{ check: HookEvent; at: number }>
  /** Drops the checks still to come (the process holding them went away). */
  stop(): void
}

/** `deliverTo` picks the tracker that gets each check (with several instances, any of them). */
export function timedChecks(deliverTo: () => { deliver(event: HookEvent): Promise<void> }): TimedChecks {
  const timers = new Set<ReturnType<typeof setTimeout>>()
  const waiting = new Set<string>()
  let stopped = false
  const run = (check: HookEvent, at: number) => {
    if (stopped) return
    const timer = setTimeout(
      async () => {
        timers.delete(timer)
        waiting.delete(check.id)
        try {
          await deliverTo().deliver(check)
        } catch (error) {
          run(check, error instanceof DeliveryDeferred ? error.until : Date.now() + 1_000)
        }
      },
      Math.max(0, at - Date.now()),
    )
    timers.add(timer)
  }
  const checks: TimedChecks = {
    scheduled: [],
    async scheduleCheck(check, at) {
      checks.scheduled.push({ check, at })
      if (waiting.has(check.id)) return
      waiting.add(check.id)
      run(check, at)
    },
    stop() {
      stopped = true
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
    },
  }
  return checks
}
