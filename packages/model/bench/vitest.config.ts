import { defineProject, mergeConfig } from 'vitest/config'
import { baseConfig } from '../../../vitest.shared.js'

// Benchmarks only (`pnpm --filter @plora/model bench`); never part of the test run.
const config = mergeConfig(
  baseConfig,
  defineProject({ root: `${import.meta.dirname}/..`, test: { name: 'model-bench', testTimeout: 600_000 } }),
)
// mergeConfig concatenates arrays: replace the test globs instead.
config.test!.include = ['bench/**/*.bench.ts']
config.test!.exclude = ['**/node_modules/**']
export default config
