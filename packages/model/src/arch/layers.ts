/**
 * Building blocks shared by the GPT-2 and LLaMA forwards: linear layers with LoRA side branches,
 * LayerNorm, RMSNorm, activations, masks and scaled-dot-product attention with a KV cache.
 *
 * References: Vaswani et al. 2017 (attention, softmax(QKᵀ/√d)·V); Ba et al. 2016 (LayerNorm);
 * Zhang & Sennrich 2019 (RMSNorm); Hu et al. 2021 (LoRA: y = Wx + s·B·A·x); Hendrycks & Gimpel
 * 2016 (GELU, tanh approximation 0.5x(1+tanh(√(2/π)(x+0.044715x³)))); Ainslie et al. 2023 (GQA).
 */
import * as tf from '@tensorflow/tfjs-core'
import { ModelError, ModelErrorCode } from '../errors.js'
import type { LoraBranches } from '../types.js'
import { addSame, batchMatMul, dense, dropoutMask, geluTanh, layerNormOp } from './fast-ops.js'

/** Per-call state threaded through a forward: LoRA branches, training flags, dropout seeds. */
export interface ForwardState {
  lora: LoraBranches | undefined
  /** LoRA-branch dropout is on. */
  training: boolean
  /** The base model's own dropouts (embedding, attention, residual) are on. */
  baseDropout: boolean
  nextSeed: () => number
}

/**
 * A {@link ForwardState} with a deterministic per-site seed sequence derived from `seed`. The
 * base model's dropouts follow `training` unless `baseDropout` is false.
 */
export function createForwardState(
  lora: LoraBranches | undefined,
  training: boolean,
  seed: number,
  baseDropout = true,
): ForwardState {
  let k = 0
  // Each dropout site gets its own seed so masks are independent yet reproducible.
  return {
    lora,
    training,
    baseDropout: training && baseDropout,
    nextSeed: () => (seed * 1_000_003 + ++k * 7919) % 2_147_483_647,
  }
}

/**
 * `table[ids]` by copying rows out of the wasm heap: wasm's GatherV2 costs ~5 ms for 512 rows of
 * 128 (bench config), the row copies ~0.1 ms. Other backends, and out-of-range ids (so that the
 * error is tfjs' own), use `tf.gather`.
 */
function gatherRows(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  const be = tf.backend() as unknown as { typedArrayFromHeap?: (t: tf.Tensor) => Float32Array }
  if (typeof be.typedArrayFromHeap !== 'function' || table.dtype !== 'float32') return tf.gather(table, ids)
  const [v, d] = table.shape
  const idx = ids.dataSync()
  for (let r = 0; r < idx.length; r++) if (!(idx[r]! >= 0 && idx[r]! < v)) return tf.gather(table, ids)
  const src = be.typedArrayFromHeap(table)
  const out = new Float32Array(idx.length * d)
  for (let r = 0; r < idx.length; r++) out.set(src.subarray(idx[r]! * d, (idx[r]! + 1) * d), r * d)
  return tf.tensor2d(out, [idx.length, d])
}

/**
 * `table[ids]` for an embedding table `[V, d]` and flat ids `[N]`. The gradient w.r.t. the table is
 * `oneHot(ids)ᵀ·dy`, a dense matMul: tfjs' own gather gradient needs UnsortedSegmentSum, which the
 * wasm backend does not implement.
 */
export function embeddingLookup(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  const vocab = table.shape[0]
  const f = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [t, save] = inputs as [tf.Tensor2D, tf.GradSaveFunc]
    save([ids])
    return {
      value: gatherRows(t, ids),
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) =>
        tf.matMul(tf.transpose(tf.cast(tf.oneHot(saved[0] as tf.Tensor1D, vocab), 'float32')), dy),
    }
  })
  return f(table) as tf.Tensor2D
}

/**
 * Dropout at one of the base model's sites (inverted dropout, as PyTorch), active only while
 * training with the base dropouts on.
 */
export function dropout(x: tf.Tensor, rate: number, state: ForwardState): tf.Tensor {
  if (!state.baseDropout || rate <= 0) return x
  return dropoutMask(x, rate, state.nextSeed())
}

/**
 * `y = x·W (+ b)` for a 2-D input `[N, in]`, plus the LoRA branch `s·dropout(x)·Aᵀ·Bᵀ` when one is
 * registered for `path`. `conv1d` weights are stored `[in, out]` (GPT-2), linear ones `[out, in]`.
 */
export function linear(
  x: tf.Tensor2D,
  path: string,
  weight: tf.Tensor2D,
  bias: tf.Tensor1D | undefined,
  conv1d: boolean,
  state: ForwardState,
): tf.Tensor2D {
  let y = dense(x, weight, bias, conv1d)
  const branch = state.lora?.get(path)
  if (branch !== undefined) {
    const inF = x.shape[1]
    const outF = y.shape[1]
    const [r, aIn] = branch.a.shape
    const [bOut, br] = branch.b.shape
    if (aIn !== inF || bOut !== outF || br !== r) {
      throw new ModelError(
        ModelErrorCode.LoraBranchInvalid,
        `LoRA branch for ${path} has A ${JSON.stringify(branch.a.shape)} and B ${JSON.stringify(branch.b.shape)}: expected A [r, ${inF}] and B [${outF}, r]`,
        { path, a: branch.a.shape, b: branch.b.shape, inFeatures: inF, outFeatures: outF },
      )
    }
    const rate = branch.dropout ?? 0
    const xin = state.training && rate > 0 ? (dropoutMask(x, rate, state.nextSeed()) as tf.Tensor2D) : x
    // Scale the rank-r intermediate (N·r elements) rather than the N·out output.
    const low = tf.mul(dense(xin, branch.a, undefined, false), branch.scale)
    y = addSame(y, dense(low as tf.Tensor2D, branch.b, undefined, false))
  }
  return y
}

/** LayerNorm over the last axis with biased variance (PyTorch `nn.LayerNorm`). */
export function layerNorm(x: tf.Tensor2D, weight: tf.Tensor1D, bias: tf.Tensor1D, eps: number): tf.Tensor2D {
  return layerNormOp(x, weight, bias, eps)
}

/** RMSNorm over the last axis: `x / sqrt(mean(x²) + eps) · w` (LLaMA). */
export function rmsNorm(x: tf.Tensor2D, weight: tf.Tensor1D, eps: number): tf.Tensor2D {
  const ms = tf.mean(tf.square(x), -1, true)
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), weight) as tf.Tensor2D
}

/** Applies a Hugging Face activation by name (`gelu_new`, `gelu`, `gelu_pytorch_tanh`, `relu`, `silu`). */
export function activation(name: string, x: tf.Tensor): tf.Tensor {
  switch (name) {
    case 'gelu_new':
    case 'gelu_fast':
    case 'gelu_pytorch_tanh': {
      return geluTanh(x)
    }
    case 'gelu':
      return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1))
    case 'relu':
      return tf.relu(x)
    case 'silu':
    case 'swish':
      return tf.mul(x, tf.sigmoid(x))
    default:
      throw new ModelError(ModelErrorCode.ArchitectureUnsupported, `unsupported activation function "${name}"`, {
        activation: name,
      })
  }
}

/**
 * Additive attention mask `[b, 1, t, T]` (0 = attend, −1e9 = blocked) for `t` new queries after
 * `past` cached positions, combining causality with a key padding mask `[b, T]` when given.
 */
export function attentionBias(b: number, t: number, past: number, keyMask: tf.Tensor2D | undefined): tf.Tensor4D {
  const total = past + t
  if (keyMask === undefined) {
    // Causal only: written directly (a broadcast compare costs more on wasm than the whole mask).
    const bias = new Float32Array(t * total)
    for (let i = 0; i < t; i++) bias.fill(-1e9, i * total + past + i + 1, (i + 1) * total)
    return tf.tensor4d(bias, [1, 1, t, total])
  }
  const q = tf.reshape(tf.range(past, total, 1, 'int32'), [t, 1])
  const k = tf.reshape(tf.range(0, total, 1, 'int32'), [1, total])
  let allowed: tf.Tensor = tf.lessEqual(k, q) // [t, T]
  allowed = tf.reshape(allowed, [1, 1, t, total])
  if (keyMask !== undefined) {
    const km = tf.reshape(tf.greater(keyMask, 0), [b, 1, 1, total])
    allowed = tf.logicalAnd(allowed, km)
  }
  // Large finite negative instead of −∞: fully masked (padding) rows stay finite.
  return tf.mul(tf.sub(1, tf.cast(allowed, 'float32')), -1e9) as tf.Tensor4D
}

/**
 * {@link attentionBias} restricted to a sliding window (Gemma-3 local layers; Beltagy et al. 2020):
 * the query at cache position i sees keys j with i − window < j ≤ i (positions count padding, as
 * Hugging Face's cache positions do).
 */
export function slidingAttentionBias(
  b: number,
  t: number,
  past: number,
  keyMask: tf.Tensor2D | undefined,
  window: number,
): tf.Tensor4D {
  const total = past + t
  const bias = new Float32Array(t * total)
  for (let i = 0; i < t; i++) {
    const q = past + i
    for (let j = 0; j < total; j++) if (j > q || j <= q - window) bias[i * total + j] = -1e9
  }
  if (keyMask === undefined) return tf.tensor4d(bias, [1, 1, t, total])
  return tf.tidy(() => {
    const km = tf.reshape(tf.cast(tf.lessEqual(keyMask, 0), 'float32'), [b, 1, 1, total])
    // Blocked by either: −1e9 once (a fully masked row stays finite and uniform, as in attentionBias).
    return tf.maximum(tf.add(tf.tensor4d(bias, [1, 1, t, total]), tf.mul(km, -1e9)), -1e9) as tf.Tensor4D
  })
}

/**
 * Position ids `[b, t]` of `t` new tokens: `cumsum(mask) − 1` clipped at 0 when a mask is given
 * (so left-padded rows start at 0, as Hugging Face generation does), else `past … past+t−1`.
 */
export function positionIds(b: number, t: number, past: number, fullMask: tf.Tensor2D | undefined): tf.Tensor2D {
  if (fullMask === undefined) {
    return tf.tile(tf.reshape(tf.range(past, past + t, 1, 'int32'), [1, t]), [b, 1]) as tf.Tensor2D
  }
  const pos = tf.maximum(tf.sub(tf.cumsum(tf.cast(fullMask, 'int32'), 1), tf.scalar(1, 'int32')), tf.scalar(0, 'int32'))
  return tf.cast(tf.slice(pos, [0, past], [b, t]), 'int32') as tf.Tensor2D
}

/** `[N, heads·d] → [b, heads, t, d]`. */
export function splitHeads(x: tf.Tensor2D, b: number, t: number, heads: number, d: number): tf.Tensor4D {
  return tf.transpose(tf.reshape(x, [b, t, heads, d]), [0, 2, 1, 3])
}

/** `[b, heads, t, d] → [N, heads·d]`. */
export function mergeHeads(x: tf.Tensor4D): tf.Tensor2D {
  const [b, h, t, d] = x.shape
  return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [b * t, h * d])
}

/** Repeats `[b, kvHeads, T, d]` key/value heads `rep` times (grouped-query attention). */
export function repeatKv(x: tf.Tensor4D, rep: number): tf.Tensor4D {
  if (rep === 1) return x
  // Head i reads kv head ⌊i/rep⌋ (HF `repeat_kv`). Tiling a rank-4 view keeps it differentiable on
  // every backend (gather's gradient needs UnsortedSegmentSum, which wasm lacks; rank-5 tile has no gradient).
  const [b, h, T, d] = x.shape
  return tf.reshape(tf.tile(tf.reshape(x, [b, h, 1, T * d]), [1, 1, rep, 1]), [b, h * rep, T, d])
}

/**
 * softmax(q·kᵀ·scale + bias)·v with `q [b,h,t,d]`, `k,v [b,h,T,d]`, `bias [b|1,1,t,T]`;
 * dropout on the probabilities while training.
 */
export function attention(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  bias: tf.Tensor4D,
  scale: number,
  dropRate: number,
  state: ForwardState,
): tf.Tensor4D {
  // Scaling q ([b,h,t,d]) is cheaper than scaling the scores ([b,h,t,T]).
  const scores = tf.add(batchMatMul(tf.mul(q, scale), k, true), bias)
  const probs = dropout(tf.softmax(scores), dropRate, state)
  return batchMatMul(probs as tf.Tensor4D, v, false)
}
