/**
 * Tokenizers through `@huggingface/transformers`' `AutoTokenizer`, loaded from a resolved local
 * model folder only: remote loading is switched off while loading, so a missing tokenizer file is
 * an error, never a download.
 */
import { existsSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { ModelError, ModelErrorCode } from './errors.js'

/** The tokenizer surface the engine uses. */
export interface Tokenizer {
  /** Token ids of `text` (no special tokens added). */
  encode(text: string): number[]
  /** Text of `ids` (special tokens skipped when `skipSpecialTokens`, default true). */
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string
  /** End-of-sequence id, if the tokenizer has one. */
  readonly eosTokenId: number | undefined
  /** Padding id: the pad token, else EOS (GPT-2 has no pad token), else 0. */
  readonly padTokenId: number
  /** Number of tokens including added ones. */
  readonly vocabSize: number
  /** `model_max_length` from `tokenizer_config.json` (may be huge when unset). */
  readonly modelMaxLength: number
}

interface HfTokenizer {
  encode(text: string, options?: { add_special_tokens?: boolean }): number[]
  decode(ids: number[], options?: { skip_special_tokens?: boolean }): string
  eos_token_id?: number | null
  pad_token_id?: number | null
  model_max_length?: number
  get_vocab?(): Record<string, number> | Map<string, number>
}

/**
 * Loads the tokenizer of a local model folder (`tokenizer.json` + `tokenizer_config.json`).
 *
 * @example
 * ```ts
 * const tok = await loadTokenizer(modelDir)
 * const ids = tok.encode('Question: 2+2?\nAnswer: 4')
 * ```
 */
export async function loadTokenizer(modelDir: string): Promise<Tokenizer> {
  if (!existsSync(join(modelDir, 'tokenizer.json'))) {
    throw new ModelError(
      ModelErrorCode.TokenizerInvalid,
      `no tokenizer.json in ${modelDir}: expected a Hugging Face fast tokenizer file`,
      {
        path: modelDir,
      },
    )
  }
  const { AutoTokenizer, env } = await import('@huggingface/transformers')
  const saved = {
    allowRemoteModels: env.allowRemoteModels,
    allowLocalModels: env.allowLocalModels,
    localModelPath: env.localModelPath,
  }
  let tok: HfTokenizer
  try {
    env.allowRemoteModels = false
    env.allowLocalModels = true
    env.localModelPath = `${dirname(modelDir)}/`
    tok = (await AutoTokenizer.from_pretrained(basename(modelDir))) as unknown as HfTokenizer
  } catch (e) {
    throw new ModelError(
      ModelErrorCode.TokenizerInvalid,
      `cannot load the tokenizer in ${modelDir}: ${(e as Error).message}`,
      { path: modelDir },
      { cause: e },
    )
  } finally {
    Object.assign(env, saved)
  }
  const vocab = tok.get_vocab?.()
  const vocabSize = vocab instanceof Map ? vocab.size : vocab ? Object.keys(vocab).length : 0
  const eos = tok.eos_token_id ?? undefined
  return {
    encode: (text) => tok.encode(text, { add_special_tokens: false }),
    // transformers.js rejects an empty id list; an empty generation decodes to ''.
    decode: (ids, options = {}) =>
      ids.length === 0 ? '' : tok.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? true }),
    eosTokenId: eos,
    padTokenId: tok.pad_token_id ?? eos ?? 0,
    vocabSize,
    modelMaxLength: tok.model_max_length ?? Number.MAX_SAFE_INTEGER,
  }
}
