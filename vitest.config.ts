import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Spawned servers and emulators share 2 cores in CI: keep the number of test files at once small.
    maxWorkers: 2,
  },
})
