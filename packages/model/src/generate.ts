/**
 * Greedy decoding with a KV cache (issue 4 item 10): the prompt(s) are left-padded and run once,
 * then one token per step is appended by argmax until `maxNewTokens` or, for every row, the EOS
 * token. Deterministic (no sampling), so generations are reproducible across runs.
 */
import * as tf from '@tensorflow/tfjs-core'
import { ModelError, ModelErrorCode } from './errors.js'
import type { Tokenizer } from './tokenizer.js'
import type { CausalLM, KvCache, LoraBranches } from './types.js'

/** Options of {@link generate}. */
export interface GenerateOptions {
  /** New tokens at most. Default 32. */
  maxNewTokens: number
  /** Stop a row at the tokenizer's EOS (not included in the text). Default true. */
  stopAtEos: boolean
  /** LoRA branches to apply. */
  lora: LoraBranches | undefined
}

/** Defaults of {@link GenerateOptions}. */
export const DEFAULT_GENERATE_OPTIONS: GenerateOptions = { maxNewTokens: 32, stopAtEos: true, lora: undefined }

/** One generation. */
export interface GenerateResult {
  /** Decoded new text. */
  text: string
  /** New token ids (without the EOS that stopped the row). */
  tokenIds: number[]
  /** Why the row stopped. */
  finishReason: 'eos' | 'length'
}

function disposeCache(c: KvCache | null): void {
  if (c) tf.dispose([...c.keys, ...c.values, c.mask])
}

/**
 * Greedy continuation of each prompt.
 *
 * @example
 * ```ts
 * const [r] = await generate(model, tok, ['Question: 2+2?\nAnswer:'], { maxNewTokens: 8 })
 * ```
 */
export async function generate(
  model: CausalLM,
  tok: Tokenizer,
  prompts: readonly string[],
  options: Partial<GenerateOptions> = {},
): Promise<GenerateResult[]> {
  const o = { ...DEFAULT_GENERATE_OPTIONS, ...options }
  const context = model.config.model_type === 'gpt2' ? model.config.n_positions : model.config.max_position_embeddings
  if (!Number.isInteger(o.maxNewTokens) || o.maxNewTokens < 0) {
    throw new ModelError(
      ModelErrorCode.InputInvalid,
      `maxNewTokens must be a non-negative integer, found ${o.maxNewTokens}`,
      {},
    )
  }
  if (prompts.length === 0) return []
  const eos = o.stopAtEos ? tok.eosTokenId : undefined
  // Keep the newest prompt tokens that leave room for the continuation.
  const room = Math.max(1, context - o.maxNewTokens)
  const encoded = prompts.map((p) => {
    const ids = tok.encode(p)
    return ids.length === 0 ? [tok.eosTokenId ?? tok.padTokenId] : ids.slice(-room)
  })
  const b = encoded.length
  const T = Math.max(...encoded.map((e) => e.length))
  const ids = new Int32Array(b * T).fill(tok.padTokenId)
  const mask = new Int32Array(b * T)
  encoded.forEach((e, r) => {
    ids.set(e, r * T + T - e.length)
    mask.fill(1, r * T + T - e.length, (r + 1) * T)
  })
  const out: number[][] = encoded.map(() => [])
  const done: Array<'eos' | 'length' | null> = encoded.map(() => null)
  const steps = Math.min(o.maxNewTokens, context - T)
  let cache: KvCache | null = null
  let input = tf.tensor2d(ids, [b, T], 'int32')
  let stepMask: tf.Tensor2D | undefined = tf.tensor2d(mask, [b, T], 'int32')
  const lora = o.lora ? { lora: o.lora } : {}
  try {
    for (let s = 0; s < steps; s++) {
      const r = model.forwardWithCache(input, cache, { ...(stepMask ? { attentionMask: stepMask } : {}), ...lora })
      const next = tf.tidy(() =>
        tf.argMax(tf.squeeze(tf.slice(r.logits, [0, r.logits.shape[1] - 1, 0], [b, 1, -1]), [1]), -1),
      )
      const chosen = Array.from(await next.data())
      tf.dispose([next, r.logits, input])
      stepMask?.dispose()
      stepMask = undefined
      disposeCache(cache)
      cache = r.cache
      chosen.forEach((t, row) => {
        if (done[row] !== null) return
        if (eos !== undefined && t === eos) done[row] = 'eos'
        else out[row]!.push(t)
      })
      if (done.every((d) => d !== null)) break
      input = tf.tensor2d(chosen, [b, 1], 'int32')
    }
  } finally {
    if (!input.isDisposed) input.dispose()
    stepMask?.dispose()
    disposeCache(cache)
  }
  return out.map((tokenIds, row) => ({ text: tok.decode(tokenIds), tokenIds, finishReason: done[row] ?? 'length' }))
}
