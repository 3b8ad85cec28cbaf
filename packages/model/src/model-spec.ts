/**
 * Model references as users write them (`PLORA_BASE_MODEL`, config `base_model`, `--model`):
 * unset or `embedded` means the embedded default base model; anything else is a folder or a
 * Hugging Face id resolved by {@link resolveModelDir}. Plus a summary for `plora model info`.
 */
import { ensureEmbeddedBaseModel } from './base-model.js'
import { type ResolveModelOptions, resolveModelDir } from './hub.js'
import type { CausalLM } from './types.js'

/** The reference that names the embedded default base model. */
export const EMBEDDED_MODEL_SPEC = 'embedded'

/** Options of {@link resolveModelSpec}: the plora cache plus the hub options. */
export interface ResolveModelSpecOptions extends Partial<ResolveModelOptions> {
  /** The plora cache folder (`PLORA_CACHE_DIR`), home of the embedded model. */
  ploraCacheDir: string
}

/** The local folder for a model reference (creating the embedded model on first use). */
export async function resolveModelSpec(spec: string | undefined, options: ResolveModelSpecOptions): Promise<string> {
  const { ploraCacheDir, ...hub } = options
  if (spec === undefined || spec.trim() === '' || spec === EMBEDDED_MODEL_SPEC)
    return ensureEmbeddedBaseModel(ploraCacheDir)
  return resolveModelDir(spec, hub)
}

/** What `plora model info` prints. */
export interface ModelSummary {
  modelDir: string
  family: 'gpt2' | 'llama'
  modelType: string
  layers: number
  hiddenSize: number
  heads: number
  kvHeads: number
  headDim: number
  mlpSize: number
  context: number
  vocabSize: number
  tiedHead: boolean
  parameters: number
  linearModules: number
}

/** Architecture facts and counts of a loaded model. */
export function describeModel(model: CausalLM): ModelSummary {
  const c = model.config
  const base = {
    modelDir: model.modelDir,
    family: model.family,
    parameters: model.parameterCount(),
    linearModules: model.linearModules().length,
  }
  if (c.model_type === 'gpt2') {
    return {
      ...base,
      modelType: c.model_type,
      layers: c.n_layer,
      hiddenSize: c.n_embd,
      heads: c.n_head,
      kvHeads: c.n_head,
      headDim: c.n_embd / c.n_head,
      mlpSize: c.n_inner ?? 4 * c.n_embd,
      context: c.n_positions,
      vocabSize: c.vocab_size,
      tiedHead: c.tie_word_embeddings,
    }
  }
  return {
    ...base,
    modelType: c.model_type,
    layers: c.num_hidden_layers,
    hiddenSize: c.hidden_size,
    heads: c.num_attention_heads,
    kvHeads: c.num_key_value_heads,
    headDim: c.head_dim,
    mlpSize: c.intermediate_size,
    context: c.max_position_embeddings,
    vocabSize: c.vocab_size,
    tiedHead: c.tie_word_embeddings,
  }
}
