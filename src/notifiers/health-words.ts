/**
 * Stream health in the plain words an operator reads in an alert: "black picture", "no thumbnails for 90 s",
 * "picture recovered after 2 min", "no hooks for 10 min". Durations are the configured ones where a setting decides
 * them (a measured silence is that setting plus the check's lag, which would only add noise to the message).
 * @module
 */

/** The stream settings the words name, from the config (`streams.*`). */
export interface HealthTimes {
  /** `streams.health.quiet.after`, ms. */
  quietAfterMs?: number
  /** `streams.endAfterSilence`, ms. */
  endAfterSilenceMs?: number
}

/** "45 s", "90 s", "2 min", "2 min 30 s", "1 h 5 min", "2 d 3 h": seconds up to two minutes, as settings read. */
export function spokenDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 120) return `${s} s`
  const m = Math.floor(s / 60)
  if (m < 60) return s % 60 === 0 ? `${m} min` : `${m} min ${s % 60} s`
  const h = Math.floor(m / 60)
  if (h < 24) return m % 60 === 0 ? `${h} h` : `${h} h ${m % 60} min`
  return `${Math.floor(h / 24)} d ${h % 24} h`
}

const number = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : undefined)

/** A problem's name: "black picture", "frozen picture", "no thumbnails for 90 s". */
export function problemWords(problem: unknown, times: HealthTimes, measurements?: unknown): string {
  if (problem === 'black') return 'black picture'
  if (problem === 'frozen') return 'frozen picture'
  if (problem === 'quiet') {
    const silent = times.quietAfterMs ?? number((measurements as { silentMs?: unknown } | undefined)?.silentMs)
    return silent === undefined ? 'no thumbnails' : `no thumbnails for ${spokenDuration(silent)}`
  }
  return 'a picture problem'
}

/** A recovery: "picture recovered after 2 min", or for thumbnails that stopped, "thumbnails back after 3 min". */
export function recoveredWords(problem: unknown, durationMs: unknown): string {
  const after = number(durationMs) === undefined ? '' : ` after ${spokenDuration(number(durationMs)!)}`
  return problem === 'quiet' ? `thumbnails back${after}` : `picture recovered${after}`
}

/** Why a session ended, when it was not the platform's `ended`: "no hooks for 10 min". */
export function endedByWords(endedBy: unknown, times: HealthTimes): string | undefined {
  if (endedBy !== 'silence') return undefined
  return times.endAfterSilenceMs === undefined ? 'no hooks' : `no hooks for ${spokenDuration(times.endAfterSilenceMs)}`
}
