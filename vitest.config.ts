import { defineConfig } from 'vitest/config'

// One root run over every package (each has its own vitest.config.ts) and the
// cross-package / CLI end-to-end tests under tests/.
export default defineConfig({
  test: {
    projects: ['packages/*', 'tests'],
  },
})
