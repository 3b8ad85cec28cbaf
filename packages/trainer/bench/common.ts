/**
 * Shared set-up of the trainer benchmarks: the backend the CLI would pick, and the default base
 * model (the pretrained embedded GPT-2 in `$PLORA_CACHE_DIR`, else `~/.cache/plora`, with
 * `$PLORA_PRETRAIN_STEPS` pretraining steps when set), created on first use as `plora train` does.
 */
import { cpus, homedir, loadavg } from 'node:os'
import { join } from 'node:path'
import { initBackend } from '@plora/model'
import { ensurePretrainedBaseModel } from '../src/index.js'

/** Backend name, model folder and a description of the machine's load. */
export async function benchSetup(): Promise<{ backend: string; modelDir: string; machine: string }> {
  const backend = await initBackend({ backend: (process.env.PLORA_BACKEND as 'auto' | undefined) ?? 'auto' })
  const cacheDir = process.env.PLORA_CACHE_DIR ?? join(homedir(), '.cache', 'plora')
  // The same budget `plora` would use: $PLORA_PRETRAIN_STEPS, else the default.
  const steps = process.env.PLORA_PRETRAIN_STEPS
  const modelDir = await ensurePretrainedBaseModel({ cacheDir, ...(steps ? { steps: Number(steps) } : {}) })
  return { backend, modelDir, machine: machineLine() }
}

/** CPU count and load averages, printed next to every figure. */
export function machineLine(): string {
  const [l1, l5, l15] = loadavg()
  return `${cpus().length} cores, load average ${l1!.toFixed(2)} ${l5!.toFixed(2)} ${l15!.toFixed(2)}`
}

/** Peak resident set size of this process so far, in MiB. */
export function peakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024
}
