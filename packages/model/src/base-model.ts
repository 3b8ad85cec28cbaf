/**
 * The embedded default base model (issue 4 item 4): a small GPT-2 (d=128, 4 layers, 4 heads,
 * context 256, ≈0.9M parameters) with a 512-token byte-level BPE vocabulary learnt from
 * {@link EMBEDDED_CORPUS}, random-initialised from a seed (a later issue adds pretraining). Used
 * whenever no base model is configured, so nothing is ever downloaded.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { byteLevelTokenizerJson, trainByteLevelBpe } from './bpe.js'
import { EMBEDDED_CORPUS } from './embedded-corpus.js'
import { parseModelConfig } from './model-config.js'
import { writeModelFolder } from './model-folder.js'
import { randomModelWeights } from './random-init.js'

/** Name of the embedded model's folder under the plora cache. */
export const EMBEDDED_BASE_MODEL_NAME = 'plora-base-gpt2-tiny'
/** Default seed of the embedded model's weights. */
export const EMBEDDED_BASE_MODEL_SEED = 0
/** Vocabulary size of the embedded tokenizer (256 bytes + 255 merges + end-of-text). */
export const EMBEDDED_VOCAB_SIZE = 512
const EOS = '<|endoftext|>'

/** Options of {@link writeEmbeddedBaseModel}. */
export interface EmbeddedBaseModelOptions {
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
}

/** The embedded model's `config.json` (Hugging Face GPT2Config spelling). */
export function embeddedBaseModelConfig(eosId = EMBEDDED_VOCAB_SIZE - 1): Record<string, unknown> {
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: EMBEDDED_VOCAB_SIZE,
    n_positions: 256,
    n_ctx: 256,
    n_embd: 128,
    n_layer: 4,
    n_head: 4,
    n_inner: null,
    activation_function: 'gelu_new',
    resid_pdrop: 0.1,
    embd_pdrop: 0.1,
    attn_pdrop: 0.1,
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
  const o = { seed: EMBEDDED_BASE_MODEL_SEED, replace: false, initStd: 0.02, ...options }
  const bpe = trainByteLevelBpe(EMBEDDED_CORPUS, EMBEDDED_VOCAB_SIZE - 1)
  const { json: tokenizer, eosId } = byteLevelTokenizerJson(bpe, EOS)
  const config = embeddedBaseModelConfig(eosId)
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
