/**
 * The signals that end delivery attempts, shared by the attempts that start close together. Each signal aborts at
 * its attempts' deadline (`timeoutMs` after the start, reason "timed out after …") or when `parent` aborts (shutting
 * down, with the parent's reason). Making an AbortController with its signal, a timer and a listener on the parent
 * costs ~3 µs on Node, and a busy gateway starts thousands of attempts a second: attempts of one timeout that start
 * within the same SLOT_MS share all three. A shared deadline is the latest of its slot's, so an attempt has between
 * `timeoutMs` and `timeoutMs + SLOT_MS` before it is aborted.
 * @module
 */
import { setMaxListeners } from 'node:events'

export const SLOT_MS = 50

interface AttemptDeadline {
  signal: AbortSignal
  /** The attempt is over (call it once, in a `finally`): the last one of a closed slot lets its timer go. */
  done(): void
}

export type AttemptDeadlines = (timeoutMs: number) => AttemptDeadline

interface Slot {
  controller: AbortController
  /** Attempts join the slot until then. */
  closesAt: number
  /** Attempts of the slot not done yet. */
  open: number
  timer: ReturnType<typeof setTimeout>
  onParent: () => void
}

/**
 * `now` is the clock slots are cut by: it must run with the timers (the real one, not a test's simulated clock,
 * under which every attempt would join one slot whose deadline is real).
 */
export function attemptDeadlines(parent?: AbortSignal, now: () => number = () => performance.now()): AttemptDeadlines {
  /** By timeout: the slot attempts join now. */
  const joining = new Map<number, Slot>()

  /** Lets go of a slot's timer and listener (its signal stays as it is for the attempts that hold it). */
  const retire = (timeoutMs: number, slot: Slot) => {
    clearTimeout(slot.timer)
    parent?.removeEventListener('abort', slot.onParent)
    if (joining.get(timeoutMs) === slot) joining.delete(timeoutMs)
  }

  const open = (timeoutMs: number, at: number): Slot => {
    const previous = joining.get(timeoutMs)
    if (previous && previous.open === 0) retire(timeoutMs, previous) // nobody holds it: no deadline to keep
    const controller = new AbortController()
    // Each attempt of the slot (and the destination it calls) may listen: as many listeners as attempts, not a leak.
    setMaxListeners(0, controller.signal)
    const slot: Slot = {
      controller,
      closesAt: at + SLOT_MS,
      open: 0,
      timer: setTimeout(() => controller.abort(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs + SLOT_MS),
      onParent: () => controller.abort(parent!.reason),
    }
    // Only attempts under way need the timer, and they keep the process busy themselves.
    ;(slot.timer as { unref?: () => void }).unref?.()
    controller.signal.addEventListener('abort', () => retire(timeoutMs, slot), { once: true })
    if (parent?.aborted) controller.abort(parent.reason)
    else parent?.addEventListener('abort', slot.onParent, { once: true })
    joining.set(timeoutMs, slot)
    return slot
  }

  return (timeoutMs) => {
    const at = now()
    const current = joining.get(timeoutMs)
    const slot = current && at < current.closesAt && !current.controller.signal.aborted ? current : open(timeoutMs, at)
    slot.open++
    let finished = false
    return {
      signal: slot.controller.signal,
      done() {
        if (finished) return
        finished = true
        slot.open--
        // A slot no attempt can join any more and none holds: its timer and listener go now, not at its deadline.
        if (slot.open === 0 && joining.get(timeoutMs) !== slot) retire(timeoutMs, slot)
      },
    }
  }
}
