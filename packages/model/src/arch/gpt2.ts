/**
 * GPT-2 causal LM forward (Radford et al. 2019, "Language Models are Unsupervised Multitask
 * Learners"; Hugging Face `GPT2LMHeadModel`).
 *
 *   h₀ = wte[ids] + wpe[pos]
 *   hₗ₊₁ = hₗ' + MLP(LN₂(hₗ')),  hₗ' = hₗ + Attn(LN₁(hₗ))          (pre-LayerNorm blocks)
 *   Attn(x) = c_proj(softmax(QKᵀ/√d_h + mask)·V),  [Q K V] = c_attn(x)   (fused Conv1D)
 *   MLP(x) = c_proj(gelu_tanh(c_fc(x)))
 *   logits = LN_f(h_L) · wteᵀ                                        (tied head)
 *
 * `Conv1D` weights are stored `[in, out]`, so `y = x·W + b`.
 */
import * as tf from '@tensorflow/tfjs-core'
import type {
  CachedForwardResult,
  CausalLM,
  ForwardOptions,
  Gpt2Config,
  KvCache,
  LinearModule,
  LoraBranches,
} from '../types.js'
import type { FloatTensorData } from '../weights.js'
import { checkInputIds, checkMask, countParams, createParams } from './base.js'
import { addSame, causalSelfAttention, dense, reshapeNoSave } from './fast-ops.js'
import {
  activation,
  attention,
  attentionBias,
  createForwardState,
  dropout,
  embeddingLookup,
  type ForwardState,
  layerNorm,
  linear,
  mergeHeads,
  positionIds,
  splitHeads,
} from './layers.js'

/** Expected state-dict names and shapes of a GPT-2 checkpoint with this config. */
export function gpt2ParamShapes(c: Gpt2Config): Map<string, number[]> {
  const d = c.n_embd
  const inner = c.n_inner ?? 4 * d
  const m = new Map<string, number[]>()
  m.set('transformer.wte.weight', [c.vocab_size, d])
  m.set('transformer.wpe.weight', [c.n_positions, d])
  for (let i = 0; i < c.n_layer; i++) {
    const p = `transformer.h.${i}`
    m.set(`${p}.ln_1.weight`, [d])
    m.set(`${p}.ln_1.bias`, [d])
    m.set(`${p}.attn.c_attn.weight`, [d, 3 * d])
    m.set(`${p}.attn.c_attn.bias`, [3 * d])
    m.set(`${p}.attn.c_proj.weight`, [d, d])
    m.set(`${p}.attn.c_proj.bias`, [d])
    m.set(`${p}.ln_2.weight`, [d])
    m.set(`${p}.ln_2.bias`, [d])
    m.set(`${p}.mlp.c_fc.weight`, [d, inner])
    m.set(`${p}.mlp.c_fc.bias`, [inner])
    m.set(`${p}.mlp.c_proj.weight`, [inner, d])
    m.set(`${p}.mlp.c_proj.bias`, [d])
  }
  m.set('transformer.ln_f.weight', [d])
  m.set('transformer.ln_f.bias', [d])
  if (!c.tie_word_embeddings) m.set('lm_head.weight', [c.vocab_size, d])
  return m
}

/** Normalises checkpoint key spellings (old checkpoints omit the `transformer.` prefix). */
function normaliseGpt2Keys(weights: Map<string, FloatTensorData>): Map<string, FloatTensorData> {
  const out = new Map<string, FloatTensorData>()
  for (const [k, v] of weights) {
    // The causal-mask buffers of old checkpoints are not parameters.
    if (k.endsWith('.attn.bias') || k.endsWith('.attn.masked_bias')) continue
    out.set(k.startsWith('transformer.') || k.startsWith('lm_head.') ? k : `transformer.${k}`, v)
  }
  return out
}

/** A GPT-2 {@link CausalLM} over decoded weights. */
export class Gpt2Model implements CausalLM {
  readonly family = 'gpt2' as const
  readonly params: Map<string, tf.Variable>
  readonly #modules: LinearModule[]

  readonly config: Gpt2Config
  readonly modelDir: string

  constructor(config: Gpt2Config, weights: Map<string, FloatTensorData>, modelDir: string) {
    this.config = config
    this.modelDir = modelDir
    this.params = createParams(normaliseGpt2Keys(weights), gpt2ParamShapes(config), modelDir)
    const d = config.n_embd
    const inner = config.n_inner ?? 4 * d
    this.#modules = []
    for (let i = 0; i < config.n_layer; i++) {
      const p = `transformer.h.${i}`
      this.#modules.push(
        { path: `${p}.attn.c_attn`, inFeatures: d, outFeatures: 3 * d, conv1d: true },
        { path: `${p}.attn.c_proj`, inFeatures: d, outFeatures: d, conv1d: true },
        { path: `${p}.mlp.c_fc`, inFeatures: d, outFeatures: inner, conv1d: true },
        { path: `${p}.mlp.c_proj`, inFeatures: inner, outFeatures: d, conv1d: true },
      )
    }
  }

  linearModules(): LinearModule[] {
    return this.#modules.map((m) => ({ ...m }))
  }

  parameterCount(): number {
    return countParams(this.params)
  }

  #p<R extends tf.Rank>(name: string): tf.Tensor<R> {
    return this.params.get(name)! as unknown as tf.Tensor<R>
  }

  #lin(x: tf.Tensor2D, path: string, state: ForwardState): tf.Tensor2D {
    return linear(x, path, this.#p(`${path}.weight`), this.#p(`${path}.bias`), true, state)
  }

  #run(
    inputIds: tf.Tensor2D,
    newMask: tf.Tensor2D | undefined,
    cache: KvCache | null,
    state: ForwardState,
    fused = false,
  ): { logits: tf.Tensor3D; keys: tf.Tensor4D[]; values: tf.Tensor4D[]; mask: tf.Tensor2D | undefined } {
    const c = this.config
    const past = cache?.length ?? 0
    checkInputIds(inputIds, c.n_positions, past)
    checkMask(newMask, inputIds)
    const [b, t] = inputIds.shape
    const d = c.n_embd
    const h = c.n_head
    const dh = d / h
    let fullMask: tf.Tensor2D | undefined
    if (cache !== null) {
      fullMask = tf.concat([cache.mask, newMask ?? tf.ones([b, t], 'int32')], 1)
    } else {
      fullMask = newMask === undefined ? undefined : tf.cast(newMask, 'int32')
    }
    // `fused` (no KV cache): activations are kept time-major, row = i·b + batch, which is the
    // layout causalSelfAttention works in; rows are put back in batch order before the head.
    const order = (ids: tf.Tensor2D) => tf.reshape(fused ? tf.transpose(ids) : ids, [-1]) as tf.Tensor1D
    const pos = positionIds(b, t, past, fullMask)
    let bias = attentionBias(b, t, past, fullMask)
    if (fused) bias = tf.transpose(bias, [2, 0, 1, 3]) // [t, b|1, 1, t]
    let x = addSame(
      embeddingLookup(this.#p<tf.Rank.R2>('transformer.wte.weight'), order(inputIds)),
      embeddingLookup(this.#p<tf.Rank.R2>('transformer.wpe.weight'), order(pos)),
    )
    x = dropout(x, c.embd_pdrop, state) as tf.Tensor2D
    const scale = c.scale_attn_weights ? 1 / Math.sqrt(dh) : 1
    const keys: tf.Tensor4D[] = []
    const values: tf.Tensor4D[] = []
    for (let i = 0; i < c.n_layer; i++) {
      const p = `transformer.h.${i}`
      const a = layerNorm(x, this.#p(`${p}.ln_1.weight`), this.#p(`${p}.ln_1.bias`), c.layer_norm_epsilon)
      const qkv = this.#lin(a, `${p}.attn.c_attn`, state)
      let att: tf.Tensor2D
      if (fused) {
        const seed = state.baseDropout && c.attn_pdrop > 0 ? state.nextSeed() : undefined
        att = causalSelfAttention(qkv, b, h, bias, scale, c.attn_pdrop, seed)
      } else {
        const [q2, k2, v2] = tf.split(qkv, 3, 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D]
        let k = splitHeads(k2, b, t, h, dh)
        let v = splitHeads(v2, b, t, h, dh)
        if (cache !== null) {
          k = tf.concat([cache.keys[i]!, k], 2)
          v = tf.concat([cache.values[i]!, v], 2)
        }
        keys.push(k)
        values.push(v)
        att = mergeHeads(attention(splitHeads(q2, b, t, h, dh), k, v, bias, scale, c.attn_pdrop, state))
      }
      const o = dropout(this.#lin(att, `${p}.attn.c_proj`, state), c.resid_pdrop, state)
      x = addSame(x, o as tf.Tensor2D)
      const m = layerNorm(x, this.#p(`${p}.ln_2.weight`), this.#p(`${p}.ln_2.bias`), c.layer_norm_epsilon)
      const f = activation(c.activation_function, this.#lin(m, `${p}.mlp.c_fc`, state)) as tf.Tensor2D
      x = addSame(x, dropout(this.#lin(f, `${p}.mlp.c_proj`, state), c.resid_pdrop, state) as tf.Tensor2D)
    }
    if (fused) x = reshapeNoSave(tf.transpose(reshapeNoSave(x, [t, b, d]), [1, 0, 2]), [b * t, d])
    x = layerNorm(x, this.#p('transformer.ln_f.weight'), this.#p('transformer.ln_f.bias'), c.layer_norm_epsilon)
    const head = this.#p<tf.Rank.R2>(c.tie_word_embeddings ? 'transformer.wte.weight' : 'lm_head.weight')
    const logits = reshapeNoSave<tf.Rank.R3>(dense(x, head, undefined, false), [b, t, c.vocab_size])
    return { logits, keys, values, mask: fullMask }
  }

  forward(inputIds: tf.Tensor2D, options: ForwardOptions = {}): tf.Tensor3D {
    const state = createForwardState(options.lora, options.training ?? false, options.seed ?? 0, options.baseDropout)
    return tf.tidy(() => this.#run(inputIds, options.attentionMask, null, state, true).logits)
  }

  forwardWithCache(
    inputIds: tf.Tensor2D,
    cache: KvCache | null,
    options: { attentionMask?: tf.Tensor2D; lora?: LoraBranches } = {},
  ): CachedForwardResult {
    const state = createForwardState(options.lora, false, 0)
    return tf.tidy(() => {
      const r = this.#run(inputIds, options.attentionMask, cache, state)
      const [b, t] = inputIds.shape
      const mask = r.mask ?? tf.ones([b, t], 'int32')
      return { logits: r.logits, cache: { keys: r.keys, values: r.values, mask, length: (cache?.length ?? 0) + t } }
    }) as CachedForwardResult
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose()
    this.params.clear()
  }
}
