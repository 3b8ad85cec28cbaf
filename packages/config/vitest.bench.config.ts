import { defineProject, mergeConfig } from 'vitest/config'
import { baseConfig } from '../../vitest.shared.js'

// Benchmarks only (`pnpm --filter @plora/config bench`): never part of the test run.
const config = mergeConfig(
  baseConfig,
  defineProject({
    root: import.meta.dirname,
    test: { name: 'config-bench', include: ['test/perf/*.bench.ts'], testTimeout: 600_000 },
  }),
)
// mergeConfig concatenates lists: only the benchmarks, without the base config's exclusion of test/perf.
config.test!.include = ['test/perf/*.bench.ts']
config.test!.exclude = ['**/node_modules/**', '**/dist/**']
export default config
