import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, vi } from 'vitest'
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
 * the wasm backend, the random tiny embedded model (no pretraining, so runs take seconds), the Hugging
 * Face hub offline with an empty cache inside it, and no base-model or sample-cap overrides from the caller's
 * shell. Callers restore `process.env` afterwards.
 */
export function useOfflineCliEnv(cacheDir: string): void {
  process.env.PLORA_CACHE_DIR = cacheDir
  process.env.PLORA_BACKEND = 'wasm'
  process.env.PLORA_LOG_LEVEL = 'warn'
  process.env.PLORA_PRETRAIN_STEPS = '0'
  process.env.PLORA_EMBEDDED_MODEL = 'tiny'
  process.env.HF_HUB_OFFLINE = '1'
  process.env.HF_HOME = join(cacheDir, 'hf')
  delete process.env.PLORA_BASE_MODEL
  delete process.env.PLORA_SAMPLES
}

/** The project {@link useTinyModelProject} sets up (filled in by its `beforeAll`). */
export interface TinyModelProject {
  /** The temporary folder (removed after the file's tests). */
  path: string
  /** A random, untrained embedded GPT-2 folder (seed 3) inside it. */
  modelDir: string
}

/**
 * Registers the `beforeAll`/`afterAll` most CLI experiment tests share: a temporary folder, the
 * offline CLI environment ({@link useOfflineCliEnv}), the wasm backend, a random embedded model, and
 * `PLORA_CONFIG` pointing at `config()`'s text written as `tiny.yml` (or no PLORA_CONFIG at all);
 * `process.env` is restored afterwards.
 */
export function useTinyModelProject(prefix: string, config?: () => string): TinyModelProject {
  const project: TinyModelProject = { path: '', modelDir: '' }
  const saved = { ...process.env }
  let cleanup = async () => {}
  beforeAll(async () => {
    const { tempDir } = await import('../packages/gate/test/helpers.js')
    const { initBackend, writeEmbeddedBaseModel } = await import('../packages/model/src/index.js')
    const tmp = await tempDir(prefix)
    cleanup = tmp.cleanup
    project.path = tmp.path
    useOfflineCliEnv(join(tmp.path, 'cache'))
    if (config) {
      const file = join(tmp.path, 'tiny.yml')
      writeFileSync(file, config())
      process.env.PLORA_CONFIG = file
    } else delete process.env.PLORA_CONFIG
    await initBackend({ backend: 'wasm' })
    project.modelDir = await writeEmbeddedBaseModel(join(tmp.path, 'base-model'), { seed: 3 })
  }, 120_000)
  afterAll(async () => {
    process.env = saved
    await cleanup()
  })
  return project
}
