import { join } from 'node:path'
import { vi } from 'vitest'
import { main } from '../packages/cli/src/main.js'

/** What one in-process `plora` invocation printed and returned. */
export interface CliResult {
  code: number
  out: string
  err: string
}

/**
 * Runs `plora <args>` in this process (from TypeScript sources, no build) and captures stdout and
 * stderr. `process.exitCode` is reset afterwards so one command's status never leaks into the next.
 */
export async function runCli(...args: string[]): Promise<CliResult> {
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true)
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
  try {
    const code = await main(['node', 'plora', ...args])
    return {
      code,
      out: out.mock.calls.map((c) => String(c[0])).join(''),
      err: err.mock.calls.map((c) => String(c[0])).join(''),
    }
  } finally {
    out.mockRestore()
    err.mockRestore()
    process.exitCode = undefined
  }
}

/**
 * Points the in-process CLI at a private, offline world: `cacheDir` as the plora cache,
 * the wasm backend, the random embedded model (no pretraining, so runs take seconds), the Hugging
 * Face hub offline with an empty cache inside it, and no base-model or sample-cap overrides from the caller's
 * shell. Callers restore `process.env` afterwards.
 */
export function useOfflineCliEnv(cacheDir: string): void {
  process.env.PLORA_CACHE_DIR = cacheDir
  process.env.PLORA_BACKEND = 'wasm'
  process.env.PLORA_LOG_LEVEL = 'warn'
  process.env.PLORA_PRETRAIN_STEPS = '0'
  process.env.HF_HUB_OFFLINE = '1'
  process.env.HF_HOME = join(cacheDir, 'hf')
  delete process.env.PLORA_BASE_MODEL
  delete process.env.PLORA_SAMPLES
}
