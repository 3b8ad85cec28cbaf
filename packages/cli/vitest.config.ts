import { defineProject, mergeConfig } from 'vitest/config'
import { baseConfig } from '../../vitest.shared.js'

export default mergeConfig(
  baseConfig,
  defineProject({
    test: {
      name: 'cli',
      // The e2e tests spawn the real bin, which runs compiled code: build (incrementally) first.
      globalSetup: ['./test/build-once.ts'],
    },
  }),
)
