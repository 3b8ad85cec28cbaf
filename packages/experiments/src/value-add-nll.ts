/**
 * The value-add NLL metric (spec pipelines.md §9.4), one float per example, aligned by index.
 *
 * Both modes lay a pair out as `Question: {q}\nAnswer: {a}` with the same tokens
 * (`encodePair` of `@plora/model`: prefix and answer tokenised separately) and differ only in the
 * positions scored:
 * - `answer` (plora's default): the mean NLL of the answer tokens given the prompt — what the
 *   adapter is trained to change;
 * - `all` (the original): the mean NLL over every next-token position, prompt included.
 * Adapters are applied as un-merged side branches, so evaluating one never writes a base weight.
 */
import { type CausalLM, encodePair, type LoraBranches, type QaPair, type Tokenizer } from '@plora/model'
import * as tf from '@tensorflow/tfjs-core'

/** Which tokens the NLL averages over. */
export type NllOn = 'answer' | 'all'

/** The choices of {@link NllOn}. */
export const NLL_ON_CHOICES: readonly NllOn[] = ['answer', 'all']

/** Options of {@link exampleNlls}. */
export interface ExampleNllOptions {
  nllOn: NllOn
  /** Longest scored sequence (tokens); undefined = the model context. */
  maxLength: number | undefined
  /** Pairs per forward pass. */
  batchSize: number
  lora: LoraBranches | undefined
}

function contextOf(model: CausalLM): number {
  return model.config.model_type === 'gpt2' ? model.config.n_positions : model.config.max_position_embeddings
}

/** Mean token NLL (nats) of each pair under `model` (+ optional LoRA branches). */
export async function exampleNlls(
  model: CausalLM,
  tok: Tokenizer,
  pairs: readonly QaPair[],
  o: ExampleNllOptions,
): Promise<number[]> {
  const maxLength = Math.min(o.maxLength ?? Number.POSITIVE_INFINITY, contextOf(model))
  const encoded = pairs.map((p) => {
    const e = encodePair(tok, p, maxLength)
    return { ids: e.ids, from: o.nllOn === 'all' ? 1 : e.answerStart }
  })
  const out: number[] = []
  const V = model.config.vocab_size
  for (let start = 0; start < encoded.length; start += o.batchSize) {
    const batch = encoded.slice(start, start + o.batchSize)
    const T = Math.max(...batch.map((e) => e.ids.length))
    const idsFlat = new Int32Array(batch.length * T).fill(tok.padTokenId)
    const maskFlat = new Int32Array(batch.length * T)
    const flatIdx: number[] = []
    batch.forEach((e, r) => {
      idsFlat.set(e.ids, r * T)
      maskFlat.fill(1, r * T, r * T + e.ids.length)
      for (let i = e.from; i < e.ids.length; i++) flatIdx.push((r * T + i - 1) * V + e.ids[i]!)
    })
    const [lseT, pickedT] = tf.tidy(() => {
      const ids = tf.tensor2d(idsFlat, [batch.length, T], 'int32')
      const mask = tf.tensor2d(maskFlat, [batch.length, T], 'int32')
      const logits = model.forward(ids, { attentionMask: mask, ...(o.lora ? { lora: o.lora } : {}) })
      const flat = tf.reshape(logits, [batch.length * T, V])
      const lse = tf.sub(tf.max(flat, -1), tf.log(tf.max(tf.softmax(flat), -1)))
      const picked = flatIdx.length ? tf.gather(tf.reshape(flat, [-1]), tf.tensor1d(flatIdx, 'int32')) : tf.zeros([0])
      return [lse, picked]
    })
    const lse = (await lseT!.data()) as Float32Array
    const picked = (await pickedT!.data()) as Float32Array
    tf.dispose([lseT!, pickedT!])
    let k = 0
    batch.forEach((e, r) => {
      let s = 0
      let n = 0
      for (let i = e.from; i < e.ids.length; i++, k++, n++) s += lse[r * T + i - 1]! - picked[k]!
      out.push(n > 0 ? s / n : Number.NaN)
    })
  }
  return out
}
