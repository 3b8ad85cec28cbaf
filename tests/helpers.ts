import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, vi } from 'vitest'
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

/** Every file below `dir` (relative paths, sorted). */
export function filesBelow(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? filesBelow(dir, join(prefix, e.name)) : [join(prefix, e.name)]))
    .sort()
}

/** The records of a JSONL file without the fields named in `timing`. */
export function untimedRecords(file: string, timing: ReadonlySet<string>): Array<Record<string, unknown>> {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => Object.fromEntries(Object.entries(JSON.parse(l) as object).filter(([k]) => !timing.has(k))))
}

/**
 * Asserts two grid runs wrote the same adapter folders: weights byte for byte, manifests apart from
 * their creation time (and the plasmid id made from it).
 */
export function expectSameAdapters(one: string, two: string, files: readonly string[]): void {
  const untimed = (f: string) =>
    readFileSync(f, 'utf8')
      .replace(/^(\s*timestamp_unix:).*$/gm, '$1 T')
      .replace(/^(plasmid_id: [a-z]+-)\d+$/gm, '$1T')
  for (const f of files)
    if (f.endsWith('plora.yml')) expect(untimed(join(two, f)), f).toBe(untimed(join(one, f)))
    else expect(readFileSync(join(two, f)), f).toEqual(readFileSync(join(one, f)))
}
