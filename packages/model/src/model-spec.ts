/**
 * Model references as users write them (`PLORA_BASE_MODEL`, config `base_model`, `--model`):
 * unset or `embedded` means the embedded default base model (`embedded-small` and `embedded-tiny`
 * name a preset outright); anything else is a folder or a Hugging Face id resolved by
 * {@link resolveModelDir}. Plus a summary for `plora model info`.
 */
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  DEFAULT_EMBEDDED_PRESET,
  EMBEDDED_PRESET_NAMES,
  EMBEDDED_PRESETS,
  type EmbeddedPreset,
  ensureEmbeddedBaseModel,
} from './base-model.js'
import { ModelError, ModelErrorCode } from './errors.js'
import { type ResolveModelOptions, resolveModelDir } from './hub.js'
import type { CausalLM, ModelFamily } from './types.js'

/** The reference that names the embedded default base model. */
export const EMBEDDED_MODEL_SPEC = 'embedded'

/**
 * The embedded preset a reference names, or undefined when it names something else:
 * `embedded` → `defaultPreset` (the `PLORA_EMBEDDED_MODEL` choice, else `small`),
 * `embedded-small` / `embedded-tiny` → that preset.
 */
export function embeddedPresetOf(
  spec: string | undefined,
  defaultPreset: EmbeddedPreset = DEFAULT_EMBEDDED_PRESET,
): EmbeddedPreset | undefined {
  if (spec === undefined || spec.trim() === '' || spec === EMBEDDED_MODEL_SPEC) return defaultPreset
  for (const p of EMBEDDED_PRESET_NAMES) if (spec === `${EMBEDDED_MODEL_SPEC}-${p}`) return p
  return undefined
}

/**
 * The folder of the repository's committed weights of a preset (`assets/models/<name>/`), where
 * a checkout has them; the `PLORA_ASSETS_DIR` environment variable points elsewhere.
 */
export function embeddedAssetDir(preset: EmbeddedPreset, assetsDir?: string): string | undefined {
  // dist/model-spec.js (or src/model-spec.ts) → packages/model → packages → the repository root.
  const root = assetsDir ?? resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'assets')
  const dir = join(root, 'models', EMBEDDED_PRESETS[preset].name)
  return existsSync(join(dir, 'config.json')) ? dir : undefined
}

/** Options of {@link resolveModelSpec}: the plora cache plus the hub options. */
export interface ResolveModelSpecOptions extends Partial<ResolveModelOptions> {
  /** The plora cache folder (`PLORA_CACHE_DIR`), home of the embedded model. */
  ploraCacheDir: string
}

/** The local folder for a model reference (creating the embedded model on first use). */
export async function resolveModelSpec(spec: string | undefined, options: ResolveModelSpecOptions): Promise<string> {
  const { ploraCacheDir, ...hub } = options
  const preset = embeddedPresetOf(spec)
  if (preset === 'tiny') return ensureEmbeddedBaseModel(ploraCacheDir)
  if (preset === 'small') {
    const dir = embeddedAssetDir('small')
    if (dir) return dir
    throw new ModelError(
      ModelErrorCode.FolderNotFound,
      `the embedded base model "${EMBEDDED_PRESETS.small.name}" is not in this checkout's assets/models/: ` +
        'build it with `plora base-model init`',
      { preset },
    )
  }
  return resolveModelDir(spec!, hub)
}

/** What `plora model info` prints. */
export interface ModelSummary {
  modelDir: string
  family: ModelFamily
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
