import { fileURLToPath } from 'node:url'
import { defaultServerConditions } from 'vite'
import { defineConfig } from 'vitest/config'

// Benchmarks are not part of the test run: `pnpm --filter @plora/swarm bench` runs them.
const conditions = ['@plora/source', ...defaultServerConditions]
export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: { name: 'swarm-bench', include: ['bench/**/*.perf.ts'], testTimeout: 600_000, pool: 'forks' },
})
