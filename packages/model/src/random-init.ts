/**
 * Deterministic random initialisation of GPT-2 / LLaMA checkpoints from a seed, as Hugging Face
 * `_init_weights` does it: N(0, 0.02²) matrices and embeddings, GPT-2 residual projections
 * (`c_proj`) scaled by 1/√(2·n_layer), zero biases, unit norm weights. With `perturbNorms` the
 * biases and norm weights are random too, so golden tests exercise every parameter. Gemma-3
 * norms scale by `1 + w`, so their unperturbed weight is 0 (HF `Gemma3RMSNorm` initialises zeros).
 * Randomness comes only from CPython-compatible `random.Random(seed)` (`@plora/common`).
 */
import { createRng } from '@plora/common'
import { gemma3ParamShapes } from './arch/gemma3.js'
import { gpt2ParamShapes } from './arch/gpt2.js'
import { llamaParamShapes } from './arch/llama.js'
import type { ModelConfig } from './types.js'
import type { FloatTensorData } from './weights.js'

/** Options of {@link randomModelWeights}. */
export interface RandomWeightsOptions {
  /** Standard deviation of matrices and embeddings (HF `initializer_range`). Default 0.02. */
  std: number
  /** Draw biases ~N(0, std²) and norm weights ~1+N(0, 0.1²) instead of 0 and 1. Default false. */
  perturbNorms: boolean
}

/** Defaults of {@link RandomWeightsOptions}. */
export const DEFAULT_RANDOM_WEIGHTS_OPTIONS: RandomWeightsOptions = { std: 0.02, perturbNorms: false }

/** Expected parameter names and shapes of a model config. */
export function modelParamShapes(config: ModelConfig): Map<string, number[]> {
  if (config.model_type === 'gpt2') return gpt2ParamShapes(config)
  if (config.model_type === 'gemma3_text') return gemma3ParamShapes(config)
  return llamaParamShapes(config)
}

/** A full, seeded random state dict for `config` (parameter order = {@link modelParamShapes}). */
export function randomModelWeights(
  config: ModelConfig,
  seed: number,
  options: Partial<RandomWeightsOptions> = {},
): Map<string, FloatTensorData> {
  const o = { ...DEFAULT_RANDOM_WEIGHTS_OPTIONS, ...options }
  const rng = createRng(seed)
  const layers = config.model_type === 'gpt2' ? config.n_layer : config.num_hidden_layers
  const out = new Map<string, FloatTensorData>()
  for (const [name, shape] of modelParamShapes(config)) {
    const n = shape.reduce((a, b) => a * b, 1)
    const data = new Float32Array(n)
    const isNorm = /(ln_\d|ln_f|layernorm|norm)\.weight$/.test(name)
    const isBias = name.endsWith('.bias')
    if (isNorm) {
      const unit = config.model_type === 'gemma3_text' ? 0 : 1
      for (let i = 0; i < n; i++) data[i] = o.perturbNorms ? unit + rng.gauss(0, 0.1) : unit
    } else if (isBias) {
      if (o.perturbNorms) for (let i = 0; i < n; i++) data[i] = rng.gauss(0, o.std)
    } else {
      // GPT-2 scales the residual output projections by 1/sqrt(2·n_layer) (Radford et al. 2019 §2.3).
      const std = config.model_type === 'gpt2' && name.endsWith('c_proj.weight') ? o.std / Math.sqrt(2 * layers) : o.std
      for (let i = 0; i < n; i++) data[i] = rng.gauss(0, std)
    }
    out.set(name, { data, shape })
  }
  return out
}
