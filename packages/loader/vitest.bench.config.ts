import { defineProject, mergeConfig } from 'vitest/config'
import { baseConfig } from '../../vitest.shared.js'

// Benchmarks only (`pnpm --filter @plora/loader bench`); never part of the test run.
export default mergeConfig(
  baseConfig,
  defineProject({ test: { name: 'loader-bench', include: [], benchmark: { include: ['test/perf/**/*.bench.ts'] } } }),
)
