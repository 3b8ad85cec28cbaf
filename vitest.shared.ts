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
    exclude: ['**/node_modules/**', '**/dist/**', 'test/perf/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
})
