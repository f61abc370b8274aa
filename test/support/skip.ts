/**
 * Skipping with a reason. `it(name, skipWhen(reason), fn)` and `describe(name, skipWhen(reason), fn)` skip when
 * `reason` is set and give it to the run's skip list, which vitest.config.ts prints at the end of `npm test`; a test
 * that finds out only while it runs calls `context.skip(reason)`, which the list shows too. A local run and CI then
 * skip the same tests for the same printed reasons.
 */
import type { TestOptions } from 'vitest'

declare module 'vitest' {
  interface TaskMeta {
    /** Why the test or suite is skipped (skipWhen). */
    skipReason?: string
  }
}

export function skipWhen(reason: string | false | undefined): TestOptions {
  return reason ? { skip: true, meta: { skipReason: reason } } : {}
}
