import { availableParallelism } from 'node:os'
import { defineConfig } from 'vitest/config'

// One root run over every package (each has its own vitest.config.ts) and the
// cross-package / CLI end-to-end tests under tests/.
export default defineConfig({
  test: {
    projects: ['packages/*', 'tests'],
    // vitest's default leaves one core idle (a single worker on a 2-core machine); the tests are
    // single-threaded CPU work (tfjs-wasm), so one worker per core halves the suite's wall time.
    // PLORA_TEST_WORKERS overrides it.
    maxWorkers: Number(process.env.PLORA_TEST_WORKERS) || availableParallelism(),
  },
})
