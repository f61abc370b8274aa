/** Polls until `check` returns without throwing (or a truthy value), or fails with its last error. */
export async function eventually<T>(
  check: () => T | Promise<T>,
  timeoutMs = 15_000,
  intervalMs = 25,
): Promise<Exclude<T, false | undefined | null>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      const value = await check()
      if (value !== false && value !== undefined && value !== null) return value as Exclude<T, false | undefined | null>
      if (Date.now() > deadline) throw new Error(`condition still ${String(value)} after ${timeoutMs} ms`)
    } catch (error) {
      if (Date.now() > deadline) throw error
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * `promise`, or a rejection naming `what` if it has not settled within `ms`: a guard against a hang (fails clearly
 * instead of at the test's timeout), never a check of speed, so `ms` is generous.
 */
export function guard<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms)
  })
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}
