import { defineConfig } from 'vitest/config'
import type { Reporter, TestModule } from 'vitest/node'

/** Ends the run with one plain line, `tests: N passed, N failed, N skipped`, for CI logs that read closing lines. */
const plainSummary: Reporter = {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>) {
    const counts = { passed: 0, failed: 0, skipped: 0 }
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state
        if (state === 'passed') counts.passed++
        else if (state === 'failed') counts.failed++
        else counts.skipped++
      }
    }
    console.log(`tests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`)
  },
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Node runs the built JavaScript (dist/node), in production and in the tests: build it first when it is stale.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Spawned servers and emulators share 2 cores in CI: keep the number of test files at once small.
    maxWorkers: 2,
    reporters: ['default', plainSummary],
  },
})
