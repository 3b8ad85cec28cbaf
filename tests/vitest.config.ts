import { defineProject, mergeConfig } from 'vitest/config'
import { baseConfig } from '../vitest.shared.js'

// Cross-package and whole-repo tests (the root scripts, the Makefile surface, npx/pnpm entry points).
export default mergeConfig(
  baseConfig,
  defineProject({
    test: { name: 'repo', include: ['**/*.test.ts'], globalSetup: ['../packages/cli/test/build-once.ts'] },
  }),
)
