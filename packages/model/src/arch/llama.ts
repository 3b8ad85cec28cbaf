/**
 * LLaMA-family causal LM forward (Touvron et al. 2023; Hugging Face `LlamaForCausalLM`, also
 * `MistralForCausalLM` and `Qwen2ForCausalLM`, whose dense forward is the same).
 *
 *   h₀ = E[ids]
 *   hₗ' = hₗ + o_proj(Attn(RMSNorm₁(hₗ)))
 *   hₗ₊₁ = hₗ' + down_proj(silu(gate_proj(y)) ⊙ up_proj(y)),  y = RMSNorm₂(hₗ')      (SwiGLU)
 *   Attn: Q, K, V from q/k/v_proj; RoPE on Q and K (Su et al. 2021, "RoFormer"):
 *         x·cos(pθ) + rotate_half(x)·sin(pθ),  θᵢ = rope_theta^(−2i/d_h), rotate_half([a,b]) = [−b,a];
 *         grouped-query attention repeats each K/V head num_heads/num_kv_heads times; Mistral's
 *         `sliding_window` limits query i to keys i − sliding_window < j ≤ i.
 *   logits = RMSNorm_f(h_L) · Wᵀ,  W = lm_head.weight or the tied embedding.
 *
 * `nn.Linear` weights are stored `[out, in]`, so `y = x·Wᵀ (+ b)`.
 */
import * as tf from '@tensorflow/tfjs-core'
import type { CausalLM, KvCache, LinearModule, LlamaConfig } from '../types.js'
import type { FloatTensorData } from '../weights.js'
import { checkInputIds, checkMask, createParams } from './base.js'
import { DecoderModel, type DecoderRun, extendMask, projectionModules, ropeTables } from './decoder.js'
import { dense } from './fast-ops.js'
import {
  activation,
  attention,
  attentionBias,
  embeddingLookup,
  type ForwardState,
  linear,
  mergeHeads,
  positionIds,
  repeatKv,
  rmsNorm,
  slidingAttentionBias,
  splitHeads,
} from './layers.js'

/** Expected state-dict names and shapes of a LLaMA-family checkpoint with this config. */
export function llamaParamShapes(c: LlamaConfig): Map<string, number[]> {
  const d = c.hidden_size
  const qd = c.num_attention_heads * c.head_dim
  const kvd = c.num_key_value_heads * c.head_dim
  const m = new Map<string, number[]>()
  m.set('model.embed_tokens.weight', [c.vocab_size, d])
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `model.layers.${i}`
    m.set(`${p}.input_layernorm.weight`, [d])
    m.set(`${p}.self_attn.q_proj.weight`, [qd, d])
    m.set(`${p}.self_attn.k_proj.weight`, [kvd, d])
    m.set(`${p}.self_attn.v_proj.weight`, [kvd, d])
    if (c.qkv_bias) {
      m.set(`${p}.self_attn.q_proj.bias`, [qd])
      m.set(`${p}.self_attn.k_proj.bias`, [kvd])
      m.set(`${p}.self_attn.v_proj.bias`, [kvd])
    }
    m.set(`${p}.self_attn.o_proj.weight`, [d, qd])
    if (c.o_bias) m.set(`${p}.self_attn.o_proj.bias`, [d])
    m.set(`${p}.post_attention_layernorm.weight`, [d])
    m.set(`${p}.mlp.gate_proj.weight`, [c.intermediate_size, d])
    m.set(`${p}.mlp.up_proj.weight`, [c.intermediate_size, d])
    m.set(`${p}.mlp.down_proj.weight`, [d, c.intermediate_size])
    if (c.mlp_bias) {
      m.set(`${p}.mlp.gate_proj.bias`, [c.intermediate_size])
      m.set(`${p}.mlp.up_proj.bias`, [c.intermediate_size])
      m.set(`${p}.mlp.down_proj.bias`, [d])
    }
  }
  m.set('model.norm.weight', [d])
  if (!c.tie_word_embeddings) m.set('lm_head.weight', [c.vocab_size, d])
  return m
}

/**
 * RoPE inverse frequencies θᵢ = theta^(−2i/d) for i < d/2, with Hugging Face's `linear` and
 * `llama3` rope_scaling variants (`_compute_llama3_parameters`).
 */
export function ropeInverseFrequencies(c: LlamaConfig): Float32Array {
  const dim = c.head_dim
  const inv = new Float32Array(dim / 2)
  for (let i = 0; i < dim / 2; i++) inv[i] = 1 / c.rope_theta ** ((2 * i) / dim)
  const s = c.rope_scaling
  if (s === null) return inv
  const type = String(s.rope_type ?? s.type ?? 'default')
  const factor = Number(s.factor ?? 1)
  if (type === 'linear') return inv.map((f) => f / factor)
  if (type === 'llama3') {
    const low = Number(s.low_freq_factor ?? 1)
    const high = Number(s.high_freq_factor ?? 4)
    const oldCtx = Number(s.original_max_position_embeddings ?? 8192)
    const lowWavelen = oldCtx / low
    const highWavelen = oldCtx / high
    return inv.map((f) => {
      const wavelen = (2 * Math.PI) / f
      if (wavelen > lowWavelen) return f / factor
      if (wavelen < highWavelen) return f
      const smooth = (oldCtx / wavelen - low) / (high - low)
      return (1 - smooth) * (f / factor) + smooth * f
    })
  }
  return inv
}

/** Applies rotary embeddings to `[b, heads, t, d]` given `cos`, `sin` of shape `[b, 1, t, d]`. */
function applyRope(x: tf.Tensor4D, cos: tf.Tensor4D, sin: tf.Tensor4D): tf.Tensor4D {
  const half = x.shape[3] / 2
  const [x1, x2] = tf.split(x, [half, half], 3)
  const rotated = tf.concat([tf.neg(x2!), x1!], 3)
  return tf.add(tf.mul(x, cos), tf.mul(rotated, sin))
}

/** A LLaMA-family {@link CausalLM} over decoded weights. */
export class LlamaModel extends DecoderModel implements CausalLM {
  readonly family = 'llama' as const
  readonly params: Map<string, tf.Variable>
  protected readonly modules: LinearModule[]
  readonly #invFreq: Float32Array

  readonly config: LlamaConfig
  readonly modelDir: string

  constructor(config: LlamaConfig, weights: Map<string, FloatTensorData>, modelDir: string) {
    super()
    this.config = config
    this.modelDir = modelDir
    const filtered = new Map([...weights].filter(([k]) => !k.endsWith('rotary_emb.inv_freq')))
    this.params = createParams(filtered, llamaParamShapes(config), modelDir)
    this.#invFreq = ropeInverseFrequencies(config)
    const d = config.hidden_size
    const qd = config.num_attention_heads * config.head_dim
    const kvd = config.num_key_value_heads * config.head_dim
    const ff = config.intermediate_size
    this.modules = projectionModules(config.num_hidden_layers, { hidden: d, q: qd, kv: kvd, ff })
  }

  #lin(x: tf.Tensor2D, path: string, state: ForwardState): tf.Tensor2D {
    const bias = this.params.get(`${path}.bias`) as tf.Tensor1D | undefined
    return linear(x, path, this.param(`${path}.weight`), bias, false, state)
  }

  protected run(
    inputIds: tf.Tensor2D,
    newMask: tf.Tensor2D | undefined,
    cache: KvCache | null,
    state: ForwardState,
  ): DecoderRun {
    const c = this.config
    const past = cache?.length ?? 0
    checkInputIds(inputIds, c.max_position_embeddings, past)
    checkMask(newMask, inputIds)
    const [b, t] = inputIds.shape
    const h = c.num_attention_heads
    const kvh = c.num_key_value_heads
    const dh = c.head_dim
    const fullMask = extendMask(cache, newMask, b, t)
    const [cos, sin] = ropeTables(positionIds(b, t, past, fullMask), this.#invFreq, b, t, dh)
    const bias =
      c.sliding_window === null
        ? attentionBias(b, t, past, fullMask)
        : slidingAttentionBias(b, t, past, fullMask, c.sliding_window)
    let x = embeddingLookup(this.param<tf.Rank.R2>('model.embed_tokens.weight'), tf.reshape(inputIds, [-1]))
    const keys: tf.Tensor4D[] = []
    const values: tf.Tensor4D[] = []
    const scale = 1 / Math.sqrt(dh)
    for (let i = 0; i < c.num_hidden_layers; i++) {
      const p = `model.layers.${i}`
      const a = rmsNorm(x, this.param(`${p}.input_layernorm.weight`), c.rms_norm_eps)
      const q = applyRope(splitHeads(this.#lin(a, `${p}.self_attn.q_proj`, state), b, t, h, dh), cos, sin)
      let k = applyRope(splitHeads(this.#lin(a, `${p}.self_attn.k_proj`, state), b, t, kvh, dh), cos, sin)
      let v = splitHeads(this.#lin(a, `${p}.self_attn.v_proj`, state), b, t, kvh, dh)
      if (cache !== null) {
        k = tf.concat([cache.keys[i]!, k], 2)
        v = tf.concat([cache.values[i]!, v], 2)
      }
      keys.push(k)
      values.push(v)
      const att = attention(q, repeatKv(k, h / kvh), repeatKv(v, h / kvh), bias, scale, c.attention_dropout, state)
      x = tf.add(x, this.#lin(mergeHeads(att), `${p}.self_attn.o_proj`, state))
      const m = rmsNorm(x, this.param(`${p}.post_attention_layernorm.weight`), c.rms_norm_eps)
      const gate = activation(c.hidden_act, this.#lin(m, `${p}.mlp.gate_proj`, state))
      const up = this.#lin(m, `${p}.mlp.up_proj`, state)
      x = tf.add(x, this.#lin(tf.mul(gate, up) as tf.Tensor2D, `${p}.mlp.down_proj`, state))
    }
    x = rmsNorm(x, this.param('model.norm.weight'), c.rms_norm_eps)
    const head = this.param<tf.Rank.R2>(c.tie_word_embeddings ? 'model.embed_tokens.weight' : 'lm_head.weight')
    const logits = tf.reshape(dense(x, head, undefined, false), [b, t, c.vocab_size]) as tf.Tensor3D
    return { logits, keys, values, mask: fullMask }
  }
}
