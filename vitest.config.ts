import { defineConfig } from 'vitest/config'
import type { Reporter, TestCase, TestModule, Vitest } from 'vitest/node'

/**
 * Why a test was skipped: `context.skip(reason)`, or skipWhen's on it or its suites (test/support/skip.ts); undefined
 * when none was given.
 */
function skipReason(test: TestCase): string | undefined {
  const result = test.result()
  if (result.state === 'skipped' && result.note) return result.note
  for (let at: TestCase | TestCase['parent'] = test; ; at = at.parent) {
    const reason = (at.meta() as { skipReason?: string }).skipReason
    if (reason) return reason
    if (at.type === 'module') break
  }
  return test.options.mode === 'todo' ? 'to do' : undefined
}

/**
 * Ends the run with the skipped tests (file > test: reason; those a name filter left out only counted) and one plain
 * line, `tests: N passed, N failed, N skipped`, for CI logs that read closing lines.
 */
function plainSummary(): Reporter {
  let nameFilter = false
  return {
    onInit(vitest: Vitest) {
      nameFilter = vitest.config.testNamePattern !== undefined
    },
    onTestRunEnd(testModules: ReadonlyArray<TestModule>) {
      const counts = { passed: 0, failed: 0, skipped: 0 }
      const skipped: string[] = []
      let filtered = 0
      for (const module of testModules) {
        for (const test of module.children.allTests()) {
          const state = test.result().state
          if (state === 'passed') counts.passed++
          else if (state === 'failed') counts.failed++
          else {
            counts.skipped++
            const reason = skipReason(test)
            if (!reason && nameFilter) filtered++
            else skipped.push(`  ${module.relativeModuleId} > ${test.fullName}: ${reason ?? 'no reason given'}`)
          }
        }
      }
      if (filtered > 0) skipped.push(`  and ${filtered} not selected by the name filter`)
      if (skipped.length > 0) console.log(['skipped:', ...skipped].join('\n'))
      console.log(`tests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`)
    },
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Node runs the built JavaScript (dist/node), in production and in the tests: build it first when it is stale.
    globalSetup: ['test/global-setup.ts'],
    // Deadlines for a hang, not timings: many tests drive real servers and processes, and under a loaded 2-core CI
    // machine the longest of those without a timeout of their own took half of the 30 s this used to be.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Spawned servers and emulators share 2 cores in CI: keep the number of test files at once small.
    maxWorkers: 2,
    reporters: ['default', plainSummary()],
  },
})
