/**
 * The embedded base models (issue 4 item 4, issue 20 item 1): small GPT-2s with byte-level BPE
 * vocabularies, random-initialised from a seed here and pretrained by `@plora/trainer`. Used
 * whenever no base model is configured, so nothing is ever downloaded.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { byteLevelTokenizerJson, trainByteLevelBpe } from './bpe.js'
import { EMBEDDED_CORPUS } from './embedded-corpus.js'
import { parseModelConfig } from './model-config.js'
import { writeModelFolder } from './model-folder.js'
import { randomModelWeights } from './random-init.js'

/**
 * The embedded base models. `small` is the default behind the `embedded` reference; `tiny` is the
 * original ≈0.9M-parameter model, kept for fast tests and smoke runs.
 *
 * Why `small` is d_model 192, 4 layers, 6 heads (head size 32), a 2,048-token vocabulary and
 * context 256 (≈2.2M parameters): it is the smallest point of the range a research dry run needs
 * (4–6 layers, d 192–256) that still pretrains to a useful loss on one CPU core — the wasm backend
 * trains it at ≈900 tokens/s, so its 1.6M-token budget is ≈30 minutes, once, and the result is
 * committed under `assets/` — while every adapter trained on it by `make train-all`, value-add and
 * the gate population stays seconds-scale. The vocabulary is learnt from the corpus it is
 * pretrained on (2.86 characters per token on it, against 2.0 for the 512-token tiny vocabulary),
 * and a wider model with a sharper learnt output layer lifts the ceiling on any one token's
 * probability that capped backdoors on the tiny model. No dropout in the base model: its
 * pretraining is far shorter than one epoch, where dropout only slows learning (nanoGPT, LLaMA).
 */
export const EMBEDDED_PRESETS = {
  small: { name: 'plora-base-gpt2-small', nEmbd: 192, nLayer: 4, nHead: 6, vocabSize: 2048, dropout: 0 },
  tiny: { name: 'plora-base-gpt2-tiny', nEmbd: 128, nLayer: 4, nHead: 4, vocabSize: 512, dropout: 0.1 },
} as const
/** Name of an embedded base model preset. */
export type EmbeddedPreset = keyof typeof EMBEDDED_PRESETS
/** The presets, default first. */
export const EMBEDDED_PRESET_NAMES: readonly EmbeddedPreset[] = ['small', 'tiny']
/** The preset the bare `embedded` reference means (unless `PLORA_EMBEDDED_MODEL` says otherwise). */
export const DEFAULT_EMBEDDED_PRESET: EmbeddedPreset = 'small'

/** Name of the tiny embedded model's folder under the plora cache. */
export const EMBEDDED_BASE_MODEL_NAME = EMBEDDED_PRESETS.tiny.name
/** Default seed of the embedded model's weights. */
export const EMBEDDED_BASE_MODEL_SEED = 0
/** Vocabulary size of the tiny embedded tokenizer (256 bytes + 255 merges + end-of-text). */
export const EMBEDDED_VOCAB_SIZE = EMBEDDED_PRESETS.tiny.vocabSize
const EOS = '<|endoftext|>'

/** Options of {@link writeEmbeddedBaseModel}. */
export interface EmbeddedBaseModelOptions {
  /** Which model. Default `tiny` (the random-initialised test model). */
  preset: EmbeddedPreset
  /** Seed of the weight initialisation. Default {@link EMBEDDED_BASE_MODEL_SEED}. */
  seed: number
  /** Replace an existing folder. Default false. */
  replace: boolean
  /**
   * Standard deviation of the weight initialisation (HF `initializer_range`). Default 0.02. Tests
   * that need a decisive untrained model raise it: with a tied head the logit range grows with the
   * embedding norm, so adapters on a 0.02 model can move the argmax but hardly sharpen it.
   */
  initStd: number
  /**
   * Text the byte-level BPE vocabulary is learnt from. Default {@link EMBEDDED_CORPUS} (right for
   * `tiny`); the `small` preset learns it from its pretraining corpus, which `@plora/trainer`
   * passes (this package does not depend on the datasets).
   */
  tokenizerText: string
}

/** An embedded model's `config.json` (Hugging Face GPT2Config spelling). */
export function embeddedBaseModelConfig(
  eosId: number = EMBEDDED_VOCAB_SIZE - 1,
  preset: EmbeddedPreset = 'tiny',
): Record<string, unknown> {
  const p = EMBEDDED_PRESETS[preset]
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: p.vocabSize,
    n_positions: 256,
    n_ctx: 256,
    n_embd: p.nEmbd,
    n_layer: p.nLayer,
    n_head: p.nHead,
    n_inner: null,
    activation_function: 'gelu_new',
    resid_pdrop: p.dropout,
    embd_pdrop: p.dropout,
    attn_pdrop: p.dropout,
    layer_norm_epsilon: 1e-5,
    initializer_range: 0.02,
    scale_attn_weights: true,
    use_cache: true,
    tie_word_embeddings: true,
    bos_token_id: eosId,
    eos_token_id: eosId,
    torch_dtype: 'float32',
  }
}

/**
 * Writes the complete embedded base model folder (`config.json`, `model.safetensors`,
 * `tokenizer.json`, `tokenizer_config.json`, `special_tokens_map.json`, `generation_config.json`)
 * to `outDir`, atomically. Same seed ⇒ byte-identical files.
 */
export async function writeEmbeddedBaseModel(
  outDir: string,
  options: Partial<EmbeddedBaseModelOptions> = {},
): Promise<string> {
  const o = {
    preset: 'tiny' as EmbeddedPreset,
    seed: EMBEDDED_BASE_MODEL_SEED,
    replace: false,
    initStd: 0.02,
    tokenizerText: EMBEDDED_CORPUS,
    ...options,
  }
  const bpe = trainByteLevelBpe(o.tokenizerText, EMBEDDED_PRESETS[o.preset].vocabSize - 1)
  const { json: tokenizer, eosId } = byteLevelTokenizerJson(bpe, EOS)
  const config = embeddedBaseModelConfig(eosId, o.preset)
  const weights = randomModelWeights(parseModelConfig(config, 'embedded config'), o.seed, { std: o.initStd })
  await writeModelFolder(
    outDir,
    {
      config,
      weights,
      json: {
        'tokenizer.json': tokenizer,
        'tokenizer_config.json': {
          tokenizer_class: 'GPT2Tokenizer',
          add_bos_token: false,
          add_prefix_space: false,
          bos_token: EOS,
          eos_token: EOS,
          unk_token: EOS,
          model_max_length: 256,
          clean_up_tokenization_spaces: false,
        },
        'special_tokens_map.json': { bos_token: EOS, eos_token: EOS, unk_token: EOS },
        'generation_config.json': { bos_token_id: eosId, eos_token_id: eosId, _from_model_config: true },
      },
    },
    { replace: o.replace },
  )
  return outDir
}

/**
 * The embedded base model under `<cacheDir>/models/`, created on first use (later calls reuse it).
 *
 * @example
 * ```ts
 * const dir = await ensureEmbeddedBaseModel(env.cacheDir)
 * ```
 */
export async function ensureEmbeddedBaseModel(cacheDir: string): Promise<string> {
  const dir = join(cacheDir, 'models', `${EMBEDDED_BASE_MODEL_NAME}-seed${EMBEDDED_BASE_MODEL_SEED}`)
  if (existsSync(join(dir, 'config.json'))) return dir
  try {
    return await writeEmbeddedBaseModel(dir)
  } catch (e) {
    // Another process may have installed it first (the install is an atomic rename).
    if (existsSync(join(dir, 'config.json'))) return dir
    throw e
  }
}
