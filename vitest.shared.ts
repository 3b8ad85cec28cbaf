import { defaultServerConditions } from 'vite'
import { defineConfig } from 'vitest/config'

/**
 * The base every package's vitest config merges (STYLE.md §7). Workspace imports resolve to
 * TypeScript sources through the `@plora/source` export condition, so tests need no build.
 */
export const baseConfig = defineConfig({
  resolve: { conditions: ['@plora/source', ...defaultServerConditions] },
  ssr: { resolve: { conditions: ['@plora/source', ...defaultServerConditions] } },
  test: {
    include: ['test/**/*.test.ts'],
    // `pnpm run test:fast` sets PLORA_TEST_FAST=1 to leave out *.slow.test.ts files. (vitest's CLI
    // `--exclude` does not reach the projects' own include/exclude, so the old `test:fast` ran them.)
    exclude: [
      '**/node_modules/**',
      '**/dist/**',
      'test/perf/**',
      ...(process.env.PLORA_TEST_FAST === '1' ? ['**/*.slow.test.ts'] : []),
    ],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
})
