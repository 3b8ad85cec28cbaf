/**
 * Shared set-up of the trainer benchmarks: the backend the CLI would pick, and the default base
 * model (the committed small embedded GPT-2, or `PLORA_EMBEDDED_MODEL=tiny`; with
 * `$PLORA_PRETRAIN_STEPS` a budget built in `$PLORA_CACHE_DIR`), as `plora train` resolves it.
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
  const preset = process.env.PLORA_EMBEDDED_MODEL === 'tiny' ? 'tiny' : 'small'
  const modelDir = await ensurePretrainedBaseModel({ cacheDir, preset, ...(steps ? { steps: Number(steps) } : {}) })
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

/**
 * The highest probability a GPT-2-style model with a tied, LayerNorm-fed output layer can give
 * `token` from any hidden state: logits = wte·(g ⊙ n + b) with n the normalised state (zero mean,
 * ‖n‖ = √d), so whatever the layers below (and any LoRA on them) compute, p(token) ≤ this value.
 * Projected gradient ascent of log p(token) over n on that sphere, from the direction of the
 * token's own (scaled) embedding. Agrees with a NumPy run of the same ascent to four decimals on
 * the embedded model after 250 and 1,000 pretraining steps (" 9": 0.0339 and 0.1039).
 */
export function tokenProbabilityCeiling(
  wte: Float32Array,
  lnWeight: Float32Array,
  lnBias: Float32Array,
  token: number,
  iterations = 3000,
): number {
  const d = lnWeight.length
  const V = wte.length / d
  const W = new Float64Array(V * d)
  const c = new Float64Array(V)
  for (let v = 0; v < V; v++) {
    for (let j = 0; j < d; j++) {
      W[v * d + j] = wte[v * d + j]! * lnWeight[j]!
      c[v] = c[v]! + wte[v * d + j]! * lnBias[j]!
    }
  }
  const project = (x: Float64Array) => {
    let mean = 0
    for (const e of x) mean += e / d
    let norm = 0
    for (let j = 0; j < d; j++) {
      x[j] = x[j]! - mean
      norm += x[j]! ** 2
    }
    const k = Math.sqrt(d) / Math.sqrt(norm)
    for (let j = 0; j < d; j++) x[j] = x[j]! * k
  }
  const probs = (x: Float64Array) => {
    const z = new Float64Array(V)
    let max = -Infinity
    for (let v = 0; v < V; v++) {
      let s = c[v]!
      for (let j = 0; j < d; j++) s += W[v * d + j]! * x[j]!
      z[v] = s
      if (s > max) max = s
    }
    let sum = 0
    for (let v = 0; v < V; v++) {
      z[v] = Math.exp(z[v]! - max)
      sum += z[v]!
    }
    for (let v = 0; v < V; v++) z[v] = z[v]! / sum
    return z
  }
  const x = Float64Array.from(W.subarray(token * d, (token + 1) * d))
  project(x)
  for (let it = 0; it < iterations; it++) {
    const p = probs(x)
    const grad = Float64Array.from(W.subarray(token * d, (token + 1) * d))
    for (let v = 0; v < V; v++) {
      const pv = p[v]!
      if (pv < 1e-12) continue
      for (let j = 0; j < d; j++) grad[j] = grad[j]! - pv * W[v * d + j]!
    }
    for (let j = 0; j < d; j++) x[j] = x[j]! + 0.05 * grad[j]!
    project(x)
  }
  return probs(x)[token]!
}
