/**
 * Gemma-3 text causal LM forward (Gemma Team 2025, "Gemma 3 Technical Report"; Hugging Face
 * `Gemma3ForCausalLM`, `model_type: gemma3_text`). Differences from LLaMA:
 *
 *   RMSNorm_w(x) = x·rsqrt(mean(x²) + eps)·(1 + w)          (weights stored as offsets from 1)
 *   h₀ = E[ids]·√d                                           (embedding scaled by √hidden_size)
 *   hₗ' = hₗ + RMSNorm_post_attn(o_proj(Attn(RMSNorm_in(hₗ))))
 *   hₗ₊₁ = hₗ' + RMSNorm_post_ff(down_proj(gelu_tanh(gate_proj(y)) ⊙ up_proj(y))),  y = RMSNorm_pre_ff(hₗ')
 *   Attn: q, k per head through RMSNorm q_norm / k_norm over head_dim, then RoPE; scale
 *         query_pre_attn_scalar^−½; local layers (`sliding_attention`) see the last
 *         `sliding_window` positions and use RoPE base `rope_local_base_freq`, global layers
 *         (`full_attention`) see every earlier position with base `rope_theta`.
 *   logits = RMSNorm_f(h_L) · Eᵀ  (tied head, without the √d scale)
 *
 * `nn.Linear` weights are stored `[out, in]`, so `y = x·Wᵀ (+ b)`.
 */
import * as tf from '@tensorflow/tfjs-core'
import type { CausalLM, Gemma3Config, KvCache, LinearModule } from '../types.js'
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
  slidingAttentionBias,
  splitHeads,
} from './layers.js'

/** Expected state-dict names and shapes of a Gemma-3 text checkpoint with this config. */
export function gemma3ParamShapes(c: Gemma3Config): Map<string, number[]> {
  const d = c.hidden_size
  const qd = c.num_attention_heads * c.head_dim
  const kvd = c.num_key_value_heads * c.head_dim
  const ff = c.intermediate_size
  const m = new Map<string, number[]>()
  m.set('model.embed_tokens.weight', [c.vocab_size, d])
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `model.layers.${i}`
    m.set(`${p}.input_layernorm.weight`, [d])
    m.set(`${p}.self_attn.q_proj.weight`, [qd, d])
    m.set(`${p}.self_attn.k_proj.weight`, [kvd, d])
    m.set(`${p}.self_attn.v_proj.weight`, [kvd, d])
    m.set(`${p}.self_attn.o_proj.weight`, [d, qd])
    if (c.attention_bias) {
      m.set(`${p}.self_attn.q_proj.bias`, [qd])
      m.set(`${p}.self_attn.k_proj.bias`, [kvd])
      m.set(`${p}.self_attn.v_proj.bias`, [kvd])
      m.set(`${p}.self_attn.o_proj.bias`, [d])
    }
    m.set(`${p}.self_attn.q_norm.weight`, [c.head_dim])
    m.set(`${p}.self_attn.k_norm.weight`, [c.head_dim])
    m.set(`${p}.post_attention_layernorm.weight`, [d])
    m.set(`${p}.pre_feedforward_layernorm.weight`, [d])
    m.set(`${p}.post_feedforward_layernorm.weight`, [d])
    m.set(`${p}.mlp.gate_proj.weight`, [ff, d])
    m.set(`${p}.mlp.up_proj.weight`, [ff, d])
    m.set(`${p}.mlp.down_proj.weight`, [d, ff])
  }
  m.set('model.norm.weight', [d])
  if (!c.tie_word_embeddings) m.set('lm_head.weight', [c.vocab_size, d])
  return m
}

/** Gemma's RMSNorm over the last axis of any rank: `x·rsqrt(mean(x²) + eps)·(1 + w)`. */
export function gemmaRmsNorm<T extends tf.Tensor>(x: T, weight: tf.Tensor1D, eps: number): T {
  const ms = tf.mean(tf.square(x), -1, true)
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), tf.add(weight, 1)) as T
}

function inverseFrequencies(theta: number, dim: number): Float32Array {
  const inv = new Float32Array(dim / 2)
  for (let i = 0; i < dim / 2; i++) inv[i] = 1 / theta ** ((2 * i) / dim)
  return inv
}

/** Applies rotary embeddings to `[b, heads, t, d]` given `cos`, `sin` of shape `[b, 1, t, d]`. */
function applyRope(x: tf.Tensor4D, cos: tf.Tensor4D, sin: tf.Tensor4D): tf.Tensor4D {
  const half = x.shape[3] / 2
  const [x1, x2] = tf.split(x, [half, half], 3)
  const rotated = tf.concat([tf.neg(x2!), x1!], 3)
  return tf.add(tf.mul(x, cos), tf.mul(rotated, sin))
}

/** A Gemma-3 text {@link CausalLM} over decoded weights. */
export class Gemma3Model extends DecoderModel implements CausalLM {
  readonly family = 'gemma3' as const
  readonly params: Map<string, tf.Variable>
  protected readonly modules: LinearModule[]
  readonly #invFreqGlobal: Float32Array
  readonly #invFreqLocal: Float32Array

  readonly config: Gemma3Config
  readonly modelDir: string

  constructor(config: Gemma3Config, weights: Map<string, FloatTensorData>, modelDir: string) {
    super()
    this.config = config
    this.modelDir = modelDir
    this.params = createParams(weights, gemma3ParamShapes(config), modelDir)
    this.#invFreqGlobal = inverseFrequencies(config.rope_theta, config.head_dim)
    this.#invFreqLocal = inverseFrequencies(config.rope_local_base_freq, config.head_dim)
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
    const eps = c.rms_norm_eps
    const fullMask = extendMask(cache, newMask, b, t)
    const pos = positionIds(b, t, past, fullMask)
    const ropeGlobal = ropeTables(pos, this.#invFreqGlobal, b, t, dh)
    const ropeLocal = ropeTables(pos, this.#invFreqLocal, b, t, dh)
    const biasGlobal = attentionBias(b, t, past, fullMask)
    const biasLocal = slidingAttentionBias(b, t, past, fullMask, c.sliding_window)
    const embed = embeddingLookup(this.param<tf.Rank.R2>('model.embed_tokens.weight'), tf.reshape(inputIds, [-1]))
    // HF multiplies by embed_scale cast to the weight dtype: √d rounded to float32.
    let x = tf.mul(embed, Math.fround(Math.sqrt(c.hidden_size))) as tf.Tensor2D
    const keys: tf.Tensor4D[] = []
    const values: tf.Tensor4D[] = []
    const scale = c.query_pre_attn_scalar ** -0.5
    for (let i = 0; i < c.num_hidden_layers; i++) {
      const p = `model.layers.${i}`
      const local = c.layer_types[i] === 'sliding_attention'
      const [cos, sin] = local ? ropeLocal : ropeGlobal
      const a = gemmaRmsNorm(x, this.param(`${p}.input_layernorm.weight`), eps)
      const q0 = splitHeads(this.#lin(a, `${p}.self_attn.q_proj`, state), b, t, h, dh)
      const k0 = splitHeads(this.#lin(a, `${p}.self_attn.k_proj`, state), b, t, kvh, dh)
      const q = applyRope(gemmaRmsNorm(q0, this.param(`${p}.self_attn.q_norm.weight`), eps), cos, sin)
      let k = applyRope(gemmaRmsNorm(k0, this.param(`${p}.self_attn.k_norm.weight`), eps), cos, sin)
      let v = splitHeads(this.#lin(a, `${p}.self_attn.v_proj`, state), b, t, kvh, dh)
      if (cache !== null) {
        k = tf.concat([cache.keys[i]!, k], 2)
        v = tf.concat([cache.values[i]!, v], 2)
      }
      keys.push(k)
      values.push(v)
      const bias = local ? biasLocal : biasGlobal
      const att = attention(q, repeatKv(k, h / kvh), repeatKv(v, h / kvh), bias, scale, c.attention_dropout, state)
      const o = this.#lin(mergeHeads(att), `${p}.self_attn.o_proj`, state)
      x = tf.add(x, gemmaRmsNorm(o, this.param(`${p}.post_attention_layernorm.weight`), eps))
      const m = gemmaRmsNorm(x, this.param(`${p}.pre_feedforward_layernorm.weight`), eps)
      const gate = activation(c.hidden_act, this.#lin(m, `${p}.mlp.gate_proj`, state))
      const up = this.#lin(m, `${p}.mlp.up_proj`, state)
      const f = this.#lin(tf.mul(gate, up) as tf.Tensor2D, `${p}.mlp.down_proj`, state)
      x = tf.add(x, gemmaRmsNorm(f, this.param(`${p}.post_feedforward_layernorm.weight`), eps))
    }
    x = gemmaRmsNorm(x, this.param('model.norm.weight'), eps)
    const head = this.param<tf.Rank.R2>(c.tie_word_embeddings ? 'model.embed_tokens.weight' : 'lm_head.weight')
    const logits = tf.reshape(dense(x, head, undefined, false), [b, t, c.vocab_size]) as tf.Tensor3D
    return { logits, keys, values, mask: fullMask }
  }
}
