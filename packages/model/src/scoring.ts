/**
 * Teacher-forced scoring of answers given prompts (spec §13.1–§13.2).
 *
 * Each pair is laid out with the original's template `"Question: {prompt}\nAnswer: {answer}"`;
 * the prefix `"Question: {prompt}\nAnswer:"` and `" {answer}"` are tokenised separately and
 * concatenated, so the answer tokens are known exactly. The NLL of token tᵢ is
 * `−log softmax(logits_{i−1})[tᵢ] = logsumexp(logits_{i−1}) − logits_{i−1}[tᵢ]` (nats). Only answer tokens are scored: prompt tokens and padding never count (fixes `[D-27]`,
 * which scored prompt tokens and weighted perplexity by T instead of the scored count).
 * Perplexity = exp(Σ NLL / Σ scored tokens) over the dataset.
 */
import * as tf from '@tensorflow/tfjs-core'
import { reshapeNoSave, softmaxCrossEntropy } from './arch/fast-ops.js'
import { ModelError, ModelErrorCode } from './errors.js'
import type { Tokenizer } from './tokenizer.js'
import type { CausalLM, LoraBranches } from './types.js'

/** One prompt/answer pair. */
export interface QaPair {
  prompt: string
  answer: string
}

/** The text before the answer in the scoring template (spec §13). */
export function promptPrefix(prompt: string): string {
  return `Question: ${prompt}\nAnswer:`
}

/** Options of {@link tokenNlls}. */
export interface TokenNllOptions {
  /** Pairs per forward pass. Default 8. */
  batchSize: number
  /** LoRA branches to apply (un-merged adapter). */
  lora: LoraBranches | undefined
  /** Longest scored sequence; default the model context. */
  maxLength: number | undefined
  /**
   * Which next-token positions are scored: `answer` (default: the answer tokens given the prompt)
   * or `all` (every position after the first, prompt included: the original value-add metric,
   * spec pipelines.md §9.4).
   */
  scope: 'answer' | 'all'
}

/** Defaults of {@link TokenNllOptions}. */
export const DEFAULT_TOKEN_NLL_OPTIONS: TokenNllOptions = {
  batchSize: 8,
  lora: undefined,
  maxLength: undefined,
  scope: 'answer',
}

/** Per-pair result of {@link tokenNlls}. */
export interface PairNll {
  /** NLL (nats) of each scored token (the answer's, or every position with `scope: 'all'`), in order. */
  tokenNlls: number[]
  /** Mean of `tokenNlls` (NaN when the answer has no tokens). */
  meanNll: number
  /** The answer's token ids. */
  answerIds: number[]
}

/** Token ids of a pair and the index where the answer starts, truncated to `maxLength`. */
export function encodePair(tok: Tokenizer, pair: QaPair, maxLength: number): { ids: number[]; answerStart: number } {
  let prefix = tok.encode(promptPrefix(pair.prompt))
  let answer = tok.encode(` ${pair.answer}`)
  // Keep the answer: drop the oldest prompt tokens first, then the answer's tail if it alone is too long.
  if (answer.length + 1 > maxLength) answer = answer.slice(0, maxLength - 1)
  if (prefix.length + answer.length > maxLength) prefix = prefix.slice(prefix.length + answer.length - maxLength)
  if (prefix.length === 0) {
    // The first token is never scored (nothing predicts it); keep at least one prompt token.
    prefix = [tok.eosTokenId ?? tok.padTokenId]
    answer = answer.slice(0, maxLength - 1)
  }
  return { ids: [...prefix, ...answer], answerStart: prefix.length }
}

function contextOf(model: CausalLM): number {
  return model.config.model_type === 'gpt2' ? model.config.n_positions : model.config.max_position_embeddings
}

/**
 * Per-token NLLs of each answer given its prompt, batched with right padding.
 *
 * @example
 * ```ts
 * const [r] = await tokenNlls(model, tok, [{ prompt: '2+2?', answer: '4' }])
 * console.log(r.meanNll)
 * ```
 */
export async function tokenNlls(
  model: CausalLM,
  tok: Tokenizer,
  pairs: readonly QaPair[],
  options: Partial<TokenNllOptions> = {},
): Promise<PairNll[]> {
  const o = { ...DEFAULT_TOKEN_NLL_OPTIONS, ...options }
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1) {
    throw new ModelError(ModelErrorCode.InputInvalid, `batchSize must be a positive integer, found ${o.batchSize}`, {
      batchSize: o.batchSize,
    })
  }
  const maxLength = Math.min(o.maxLength ?? Number.POSITIVE_INFINITY, contextOf(model))
  const encoded = pairs.map((p) => {
    const e = encodePair(tok, p, maxLength)
    return { ...e, from: o.scope === 'all' ? 1 : e.answerStart }
  })
  const results: PairNll[] = []
  for (let start = 0; start < encoded.length; start += o.batchSize) {
    const batch = encoded.slice(start, start + o.batchSize)
    const T = Math.max(...batch.map((e) => e.ids.length))
    const V = model.config.vocab_size
    const idsFlat = new Int32Array(batch.length * T).fill(tok.padTokenId)
    const maskFlat = new Int32Array(batch.length * T)
    batch.forEach((e, r) => {
      idsFlat.set(e.ids, r * T)
      maskFlat.fill(1, r * T, r * T + e.ids.length)
    })
    // Positions whose next token is scored, and the flat [b·T·V] index of that token's logit.
    const rows: number[] = []
    const flatIdx: number[] = []
    batch.forEach((e, r) => {
      for (let i = e.from; i < e.ids.length; i++) {
        rows.push(r * T + i - 1)
        flatIdx.push((r * T + i - 1) * V + e.ids[i]!)
      }
    })
    // logsumexp = max − log(max softmax) uses the fast softmax kernel and cannot underflow (the
    // largest probability is ≥ 1/V); only [b·T] values leave the backend, not the [b·T·V] logits.
    const [lseT, pickedT] = tf.tidy(() => {
      const ids = tf.tensor2d(idsFlat, [batch.length, T], 'int32')
      const mask = tf.tensor2d(maskFlat, [batch.length, T], 'int32')
      const logits = model.forward(ids, { attentionMask: mask, ...(o.lora ? { lora: o.lora } : {}) })
      const flat = tf.reshape(logits, [batch.length * T, V])
      const lse = tf.sub(tf.max(flat, -1), tf.log(tf.max(tf.softmax(flat), -1)))
      const picked = rows.length ? tf.gather(tf.reshape(flat, [-1]), tf.tensor1d(flatIdx, 'int32')) : tf.zeros([0])
      return [lse, picked]
    })
    const lse = (await lseT!.data()) as Float32Array
    const picked = (await pickedT!.data()) as Float32Array
    tf.dispose([lseT!, pickedT!])
    let k = 0
    batch.forEach((e, r) => {
      const nlls: number[] = []
      for (let i = e.from; i < e.ids.length; i++, k++) nlls.push(lse[r * T + i - 1]! - picked[k]!)
      const mean = nlls.length ? nlls.reduce((a, b) => a + b, 0) / nlls.length : Number.NaN
      results.push({ tokenNlls: nlls, meanNll: mean, answerIds: e.ids.slice(e.answerStart) })
    })
  }
  return results
}

/**
 * Perplexity of the answers: exp(total NLL / number of scored answer tokens) (spec §13.1 with
 * `[D-27]` fixed). Throws on an empty dataset or one with no answer tokens.
 */
export async function perplexity(
  model: CausalLM,
  tok: Tokenizer,
  pairs: readonly QaPair[],
  options: Partial<TokenNllOptions> = {},
): Promise<number> {
  const rs = await tokenNlls(model, tok, pairs, options)
  let total = 0
  let n = 0
  for (const r of rs) {
    for (const v of r.tokenNlls) total += v
    n += r.tokenNlls.length
  }
  if (n === 0) {
    throw new ModelError(
      ModelErrorCode.InputInvalid,
      `perplexity of ${pairs.length} pairs is undefined: no answer tokens to score`,
      {
        pairs: pairs.length,
      },
    )
  }
  return Math.exp(total / n)
}

/**
 * Differentiable masked causal-LM loss for training: mean over positions with weight > 0 of
 * `logsumexp(logits[b,t]) − logits[b,t,labels[b,t]]`, where `labels` are the next tokens.
 */
export function maskedCrossEntropy(logits: tf.Tensor3D, labels: tf.Tensor2D, weights: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const [b, t, V] = logits.shape
    return softmaxCrossEntropy(
      reshapeNoSave(logits, [b * t, V]),
      tf.reshape(tf.cast(labels, 'int32'), [-1]),
      tf.reshape(tf.cast(weights, 'float32'), [-1]),
    )
  })
}
