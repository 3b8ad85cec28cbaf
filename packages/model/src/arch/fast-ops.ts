/**
 * Custom-gradient ops that keep TensorFlow.js' wasm backend (SIMD, one thread) on its fast paths.
 * What the per-kernel profile (`BENCH_PROFILE=1 pnpm --filter @plora/model bench`) and
 * bench/matmul.bench.ts showed on this 2-core machine:
 *
 * - 2-D `matMul` without transpose flags goes to XNNPACK: 13–22 GFLOP/s. With `transposeB` or
 *   `transposeA`, or with a batch dimension > 1 (attention's q·kᵀ and p·v), it takes a scalar
 *   loop at 0.5–1.5 GFLOP/s. tfjs' own matMul gradient uses the transposed forms.
 * - `depthwiseConv2d` with a channel multiplier runs XNNPACK's grouped GEMM, ~5× faster than that
 *   batched loop: attention is written as such convolutions ({@link causalSelfAttention}).
 * - `transpose` costs ~5 ns per element; `Slice`/`SplitV` copy the whole input out of the heap
 *   first (2.3 ms to split [512, 384] in three); `GatherV2` takes ~5 ms for 512 rows of 128.
 * - Every tensor saved for a gradient is cloned, and wasm's Identity copies; tf.add and
 *   tf.reshape save their inputs only to read shapes ({@link addSame}, {@link reshapeNoSave}).
 * - V8's Math.exp costs ~18 ns and JS loops run at 2–5 ns per element here, so JS versions of
 *   LayerNorm and GELU (tried) were slower than the wasm kernel chains: best step 98 vs 91 ms.
 *
 * - With the native GEMM under the MatMul kernels (`../native-kernels.ts`), transposed and strided
 *   products cost what plain ones do (150+ GFLOP/s with AVX-512): {@link dense} then passes
 *   transpose flags instead of transposing, and attention runs on strided GEMMs that read Q, K, V
 *   in place (`causalSelfAttentionNative`).
 *
 * Ops:
 * - {@link dense}: y = x·W (+b) for W stored `[in,out]` (GPT-2 Conv1D) or `[out,in]` (nn.Linear);
 *   dx = dy·Wᵀ, dW = xᵀ·dy (or dyᵀ·x), db = Σ dy. Weight and bias gradients are skipped (zeros)
 *   for variables marked `trainable = false`, whose weight is then read at backward time rather
 *   than saved, so LoRA-only training pays for neither the gradients nor the clones.
 * - {@link causalSelfAttention}: fused attention on time-major rows, six grouped GEMMs per layer.
 * - {@link dropoutMask}: inverted dropout with a mask drawn by a small JS PRNG (splitmix32) from a
 *   seed; one multiply in the graph instead of tfjs' random-uniform/compare/floor/divide chain.
 * - {@link softmaxCrossEntropy}: mean NLL with logsumexp = m − log(max softmax) (the largest
 *   probability is ≥ 1/V, so nothing underflows) and gradient (softmax − onehot)·w/Σw.
 */
import * as tf from '@tensorflow/tfjs-core'
import { activeNativeKernels, gemmToNewTensor, type TensorOperand } from '../native-kernels.js'

function isFrozen(t: tf.Tensor): boolean {
  // Duck-typed: under vitest two tfjs-core module copies can coexist, so instanceof is unreliable.
  return (t as { trainable?: boolean }).trainable === false
}

/**
 * `x·W (+ b)` with `x [N, in]`; `inOut` says W is stored `[in, out]` (else `[out, in]`).
 */
export function dense(x: tf.Tensor2D, w: tf.Tensor2D, bias: tf.Tensor1D | undefined, inOut: boolean): tf.Tensor2D {
  const frozen = isFrozen(w)
  const biasFrozen = bias !== undefined && isFrozen(bias)
  const f = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const xx = inputs[0] as tf.Tensor2D
    const ww = inputs[1] as tf.Tensor2D
    const hasBias = bias !== undefined
    const save = inputs[hasBias ? 3 : 2] as tf.GradSaveFunc
    // Saved tensors are cloned (a copy on wasm). A frozen weight is a variable that outlives the
    // step, so the gradient reads it directly, and dx = dy·Wᵀ does not need x at all.
    save(frozen ? [] : [xx, ww])
    // The native GEMM reads transposed operands through strides for free; XNNPACK does not.
    const flags = native()
    const wIO = inOut || flags ? ww : tf.transpose(ww)
    const tB = flags && !inOut
    const y = (
      hasBias
        ? tf.fused.matMul({ a: xx, b: wIO, transposeB: tB, bias: inputs[2] as tf.Tensor1D })
        : tf.matMul(xx, wIO, false, tB)
    ) as tf.Tensor2D
    return {
      value: y,
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const [sx, sw] = (frozen ? [undefined, w] : saved) as [tf.Tensor2D, tf.Tensor2D]
        const dx = flags ? tf.matMul(dy, sw, false, inOut) : tf.matMul(dy, inOut ? tf.transpose(sw) : sw)
        const dw = frozen ? tf.zerosLike(sw) : flags ? weightGradFlags(sx!, dy, inOut) : weightGrad(sx!, dy, inOut)
        if (!hasBias) return [dx, dw]
        // A column sum reduces over axis 0, which wasm does through a transpose: skip it when frozen.
        return [dx, dw, biasFrozen ? tf.zerosLike(bias) : tf.sum(dy, 0)]
      },
    }
  })
  return (bias === undefined ? f(x, w) : f(x, w, bias)) as tf.Tensor2D
}

/**
 * dW = xᵀ·dy (`[in, out]`) or dyᵀ·x (`[out, in]`), transposing whichever of x `[N, in]` and dy
 * `[N, out]` is smaller: (aᵀ·b)ᵀ = bᵀ·a, and on wasm a transpose costs about as much per element as
 * the product. For a LoRA B `[out, r]` this transposes the `[N, r]` input instead of the `[N, out]`
 * gradient: 0.26 instead of 1.0 ms at N = 512, out = 384, r = 8.
 */
function weightGrad(x: tf.Tensor2D, dy: tf.Tensor2D, inOut: boolean): tf.Tensor2D {
  const xSmaller = x.shape[1] <= dy.shape[1]
  if (inOut) return xSmaller ? tf.matMul(tf.transpose(x), dy) : tf.transpose(tf.matMul(tf.transpose(dy), x))
  return xSmaller ? tf.transpose(tf.matMul(tf.transpose(x), dy)) : tf.matMul(tf.transpose(dy), x)
}

/** dW = xᵀ·dy (`[in, out]`) or dyᵀ·x (`[out, in]`) with transpose flags (the native GEMM's strides). */
function weightGradFlags(x: tf.Tensor2D, dy: tf.Tensor2D, inOut: boolean): tf.Tensor2D {
  return inOut ? tf.matMul(x, dy, true, false) : tf.matMul(dy, x, true, false)
}

/** True when the wasm backend's MatMul kernels run on the native GEMM. */
function native(): boolean {
  return activeNativeKernels() !== 'off' && tf.getBackend() === 'wasm'
}

/** Swaps the last two axes of a rank-4 tensor. */
function swapLast(t: tf.Tensor4D): tf.Tensor4D {
  return tf.transpose(t, [0, 1, 3, 2])
}

/**
 * Batched `a·b` (or `a·bᵀ` with `transposeB`) for rank-4 operands whose backward uses explicit
 * transposes: tfjs' BatchMatMul gradient multiplies with `transposeA`, the slowest form on wasm.
 */
export function batchMatMul(a: tf.Tensor4D, b: tf.Tensor4D, transposeB: boolean): tf.Tensor4D {
  const f = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, y, save] = inputs as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc]
    save([x, y])
    return {
      value: tf.matMul(x, y, false, transposeB) as tf.Tensor4D,
      gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
        const [sx, sy] = saved as [tf.Tensor4D, tf.Tensor4D]
        if (transposeB) {
          // out = x·yᵀ: dx = dy·y, dy_ = dyᵀ·x
          return [tf.matMul(dy, sy), tf.matMul(swapLast(dy), sx)]
        }
        // out = x·y: dx = dy·yᵀ, dy_ = xᵀ·dy
        return [tf.matMul(dy, sy, false, true), tf.matMul(swapLast(sx), dy)]
      },
    }
  })
  return f(a, b) as tf.Tensor4D
}

const GELU_K1 = 2 * Math.sqrt(2 / Math.PI)
const GELU_K2 = GELU_K1 * 0.044715

/**
 * GELU, tanh approximation, as `x·σ(z)` with `z = 2√(2/π)(x + 0.044715x³)` (tanh(u) = 2σ(2u) − 1),
 * with a hand-written gradient `σ(z) + x·σ(z)(1 − σ(z))·2√(2/π)(1 + 3·0.044715x²)`: about half
 * the elementwise kernels of the autodiff chain, which dominate the MLP's backward on wasm.
 */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  const f = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xx, save] = inputs as [tf.Tensor, tf.GradSaveFunc]
    const x2 = tf.mul(xx, xx)
    const s = tf.sigmoid(tf.mul(xx, tf.add(tf.mul(x2, GELU_K2), GELU_K1)))
    save([xx, x2, s])
    return {
      value: tf.mul(xx, s),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sx2, ss] = saved as [tf.Tensor, tf.Tensor, tf.Tensor]
        const dz = tf.add(tf.mul(sx2, 3 * GELU_K2), GELU_K1)
        const ds = tf.mul(ss, tf.sub(1, ss))
        return tf.mul(dy, tf.add(ss, tf.mul(tf.mul(sx, ds), dz)))
      },
    }
  })
  return f(x)
}

/**
 * LayerNorm over the last axis, `y = (x − μ)/√(σ² + ε)·w + b` (biased σ², PyTorch), with the
 * closed-form gradient dx = r·(g − mean(g) − x̂·mean(g·x̂)), g = dy·w, r = 1/√(σ² + ε)
 * (Ba et al. 2016); weight/bias gradients are skipped for frozen variables.
 */
export function layerNormOp(x: tf.Tensor2D, weight: tf.Tensor1D, bias: tf.Tensor1D, eps: number): tf.Tensor2D {
  const frozen = isFrozen(weight) && isFrozen(bias)
  const f = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xx, w, b, save] = inputs as [tf.Tensor2D, tf.Tensor1D, tf.Tensor1D, tf.GradSaveFunc]
    const xc = tf.sub(xx, tf.mean(xx, -1, true))
    const rstd = tf.rsqrt(tf.add(tf.mean(tf.mul(xc, xc), -1, true), eps))
    const xhat = tf.mul(xc, rstd)
    save([xhat, rstd, w])
    return {
      value: tf.add(tf.mul(xhat, w), b) as tf.Tensor2D,
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const [sxhat, srstd, sw] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D]
        const g = tf.mul(dy, sw)
        const inner = tf.sub(tf.sub(g, tf.mean(g, -1, true)), tf.mul(sxhat, tf.mean(tf.mul(g, sxhat), -1, true)))
        const dx = tf.mul(inner, srstd)
        if (frozen) return [dx, tf.zerosLike(sw), tf.zerosLike(sw)]
        return [dx, tf.sum(tf.mul(dy, sxhat), 0), tf.sum(dy, 0)]
      },
    }
  })
  return f(x, weight, bias) as tf.Tensor2D
}

/** The inverted-dropout multiplier (0 or 1/(1−rate)) for every element of `shape`, seeded by `seed`. */
function dropoutMultiplier(shape: number[], rate: number, seed: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1)
  const mask = new Float32Array(n)
  const keep = 1 / (1 - rate)
  // splitmix32 (Steele et al. 2014, SplitMix) inlined on int32 values; u/2³² < rate ⇔ u < rate·2³²
  // exactly, so the masks are those of the former closure form, which was ~3× slower (its uint32
  // intermediates were doubles).
  const threshold = rate * 4294967296
  let s = seed | 0
  for (let i = 0; i < n; i++) {
    s = (s + 0x9e3779b9) | 0
    let z = Math.imul(s ^ (s >>> 16), 0x85ebca6b)
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
    mask[i] = (z ^ (z >>> 16)) >>> 0 < threshold ? 0 : keep
  }
  return tf.tensor(mask, shape, 'float32')
}

/** Inverted dropout of `x` with keep-scale 1/(1−rate), mask seeded by `seed`. */
export function dropoutMask(x: tf.Tensor, rate: number, seed: number): tf.Tensor {
  // tf.mul would save (clone) both operands for its gradient; only the mask is needed.
  const f = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xx, save] = inputs as [tf.Tensor, tf.GradSaveFunc]
    const mask = dropoutMultiplier(xx.shape, rate, seed)
    save([mask])
    return { value: tf.mul(xx, mask), gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, saved[0]!) }
  })
  return f(x)
}

/**
 * `a + b` for same-shape tensors. tf.add saves (clones, a copy on wasm) both operands for its
 * gradient only to read their shapes; this one saves nothing.
 */
export function addSame<T extends tf.Tensor>(a: T, b: T): T {
  const f = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, y] = inputs as [tf.Tensor, tf.Tensor]
    // Distinct tensor objects (sharing data): the tape may dispose one input's gradient.
    return { value: tf.add(x, y), gradFunc: (dy: tf.Tensor) => [tf.reshape(dy, dy.shape), tf.reshape(dy, dy.shape)] }
  })
  return f(a, b) as T
}

/** `tf.reshape` that saves nothing for its gradient (tf.reshape clones its input to know the shape). */
export function reshapeNoSave<R extends tf.Rank>(x: tf.Tensor, shape: number[]): tf.Tensor<R> {
  const from = x.shape
  const f = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => ({
    value: tf.reshape(inputs[0] as tf.Tensor, shape),
    gradFunc: (dy: tf.Tensor) => tf.reshape(dy, from),
  }))
  return f(x) as tf.Tensor<R>
}

/**
 * Batched `out[p,i,j] = Σ_c x[i,c,p]·f[c,p,j]` over `p` pairs as one depthwise convolution: input
 * `[1, rows, window, pairs]`, filter `[1, window, pairs, cols]` (channel multiplier = cols), VALID
 * padding, output `[rows, pairs, cols]`. On wasm this runs in XNNPACK's grouped GEMM, about five
 * times faster than BatchMatMul, whose batch>1 path is a scalar loop (~1 GFLOP/s).
 */
function pairMatMul(
  x: tf.Tensor,
  f: tf.Tensor,
  rows: number,
  window: number,
  pairs: number,
  cols: number,
): tf.Tensor3D {
  const y = tf.depthwiseConv2d(
    tf.reshape(x, [1, rows, window, pairs]) as tf.Tensor4D,
    tf.reshape(f, [1, window, pairs, cols]) as tf.Tensor4D,
    1,
    'valid',
  )
  return tf.reshape(y, [rows, pairs, cols])
}

/**
 * `tf.split(x, parts, 1)` without gradient. On wasm the Slice kernel first copies the whole input
 * out of the heap (readSync) for every part: ~2.3 ms for [512, 384] in three; row copies from a
 * heap view take ~0.2 ms.
 */
function splitColumns(x: tf.Tensor2D, parts: number): tf.Tensor2D[] {
  const be = tf.backend() as unknown as { typedArrayFromHeap?: (t: tf.Tensor) => Float32Array }
  if (typeof be.typedArrayFromHeap !== 'function' || x.dtype !== 'float32') return tf.split(x, parts, 1)
  const [n, cols] = x.shape
  const w = cols / parts
  const src = be.typedArrayFromHeap(x)
  const outs = Array.from({ length: parts }, () => new Float32Array(n * w))
  for (let r = 0; r < n; r++) {
    for (let k = 0; k < parts; k++) outs[k]!.set(src.subarray(r * cols + k * w, r * cols + (k + 1) * w), r * w)
  }
  return outs.map((o) => tf.tensor2d(o, [n, w]))
}

/**
 * Causal self-attention `softmax(Q·Kᵀ·scale + bias)·V` for every (batch, head) pair, taking the
 * fused projection `qkv [t·b, 3·h·d]` whose rows are time-major (row = i·b + batch) and returning
 * `[t·b, h·d]` in the same row order, with a hand-written gradient.
 *
 * Pairs p = batch·h + head sit in the channel axis of a depthwise convolution (see `pairMatMul`),
 * so every product — Q·Kᵀ and P·V forward, dP = dO·Vᵀ, dV = Pᵀ·dO, dQ = dS·K, dK = dSᵀ·Q backward —
 * is one grouped GEMM; scores stay in the layout `[i, p, j]` where softmax runs over the last axis.
 * Time-major rows make `[t, p, d]` views of Q, K, V and dO free; the remaining layout changes are
 * explicit transposes. `bias` is additive, `[t, b|1, 1, t]` (0 attend, −1e9 blocked); `dropSeed`
 * turns on inverted dropout of the probabilities with `dropRate`.
 */
export function causalSelfAttention(
  qkv: tf.Tensor2D,
  b: number,
  h: number,
  bias: tf.Tensor,
  scale: number,
  dropRate: number,
  dropSeed: number | undefined,
): tf.Tensor2D {
  const n = qkv.shape[0]
  const t = n / b
  const hd = qkv.shape[1] / 3
  const d = hd / h
  const p = b * h
  if (native()) return causalSelfAttentionNative(qkv, { b, h, n, t, hd, d, p }, bias, scale, dropRate, dropSeed)
  const f = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, save] = inputs as [tf.Tensor2D, tf.GradSaveFunc]
    const [q2, k2, v2] = splitColumns(x, 3)
    const qs = tf.reshape(tf.mul(q2!, scale), [t, p, d]) // [i, p, c]
    const k = tf.reshape(k2!, [t, p, d]) // [j, p, c]
    const v = tf.reshape(v2!, [t, p, d]) // [j, p, c]
    const scores = tf.add(
      tf.reshape(pairMatMul(tf.transpose(qs, [0, 2, 1]), tf.transpose(k, [2, 1, 0]), t, d, p, t), [t, b, h, t]),
      bias,
    )
    const probs = tf.reshape(tf.softmax(scores), [t, p, t]) // [i, p, j]
    const mask = dropSeed === undefined || dropRate <= 0 ? undefined : dropoutMultiplier([t, p, t], dropRate, dropSeed)
    const pd = mask === undefined ? probs : tf.mul(probs, mask)
    const pIn = tf.transpose(pd, [0, 2, 1]) // [i, j, p]
    const out = tf.reshape(pairMatMul(pIn, v, t, t, p, d), [n, hd]) as tf.Tensor2D
    save(mask === undefined ? [qs, k, v, probs, pIn] : [qs, k, v, probs, pIn, mask])
    return {
      value: out,
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const [sq, sk, sv, sp, spIn, sm] = saved as [
          tf.Tensor3D,
          tf.Tensor3D,
          tf.Tensor3D,
          tf.Tensor3D,
          tf.Tensor3D,
          tf.Tensor3D | undefined,
        ]
        const dO = tf.reshape(dy, [t, p, d]) // [i, p, c]
        // dP[i,p,j] = Σ_c dO[i,p,c]·V[j,p,c]; dV[j,p,c] = Σ_i P[i,p,j]·dO[i,p,c]
        let dP: tf.Tensor = pairMatMul(tf.transpose(dO, [0, 2, 1]), tf.transpose(sv, [2, 1, 0]), t, d, p, t)
        const dV = pairMatMul(tf.transpose(spIn, [1, 0, 2]), dO, t, t, p, d)
        if (sm !== undefined) dP = tf.mul(dP, sm)
        // softmax: dS = P ⊙ (dP − Σ_j P ⊙ dP)
        const dS = tf.mul(sp, tf.sub(dP, tf.sum(tf.mul(sp, dP), -1, true)))
        const dSIn = tf.transpose(dS, [0, 2, 1]) // [i, j, p]
        // dQ[i,p,c] = scale·Σ_j dS[i,p,j]·K[j,p,c]; dK[j,p,c] = Σ_i dS[i,p,j]·(scale·Q)[i,p,c]
        const dQ = tf.mul(pairMatMul(dSIn, sk, t, t, p, d), scale)
        const dK = pairMatMul(tf.transpose(dSIn, [1, 0, 2]), sq, t, t, p, d)
        return tf.concat([tf.reshape(dQ, [n, hd]), tf.reshape(dK, [n, hd]), tf.reshape(dV, [n, hd])], 1)
      },
    }
  })
  return f(qkv) as tf.Tensor2D
}

/**
 * {@link causalSelfAttention} on the native GEMM ({@link gemmToNewTensor}): the same layouts and
 * arithmetic, but every product reads Q, K, V, dO and the probabilities in place through strides
 * (no split, no transposes, no grouped-convolution reshapes), scales by `scale` inside the GEMM,
 * and the gradients of Q, K and V are written straight into one `[t·b, 3·h·d]` tensor (no concat).
 * One GEMM call per batch row β covers its h heads (a head is a batch stride of d).
 */
function causalSelfAttentionNative(
  qkv: tf.Tensor2D,
  dims: { b: number; h: number; n: number; t: number; hd: number; d: number; p: number },
  bias: tf.Tensor,
  scale: number,
  dropRate: number,
  dropSeed: number | undefined,
): tf.Tensor2D {
  const { b, h, n, t, hd, d, p } = dims
  const xr = b * 3 * hd // row stride of Q, K, V at one time step of one batch row
  const or = b * hd // row stride of the output and of dO
  const pr = p * t // row stride of the scores [t, p, t]
  const rows = Array.from({ length: b }, (_, beta) => beta)
  // Operands for batch row β over its heads: x columns (Q 0, K hd, V 2hd), [n, hd] rows, scores.
  const xs = (x: tf.TensorInfo, beta: number, part: number, transposed: boolean): TensorOperand => ({
    t: x,
    off: beta * 3 * hd + part * hd,
    sb: d,
    sr: transposed ? 1 : xr,
    sc: transposed ? xr : 1,
  })
  const os = (y: tf.TensorInfo, beta: number): TensorOperand => ({ t: y, off: beta * hd, sb: d, sr: or, sc: 1 })
  const ss = (sc: tf.TensorInfo, beta: number, transposed: boolean): TensorOperand => ({
    t: sc,
    off: beta * h * t,
    sb: t,
    sr: transposed ? 1 : pr,
    sc: transposed ? pr : 1,
  })
  const sOut = (beta: number) => ({ off: beta * h * t, sb: t, sr: pr })
  const f = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, save] = inputs as [tf.Tensor2D, tf.GradSaveFunc]
    // S[i,p,j] = scale·Σ_c Q[i,p,c]·K[j,p,c]
    const raw = gemmToNewTensor(
      [t, b, h, t],
      rows.map((beta) => ({
        batch: h,
        m: t,
        n: t,
        k: d,
        alpha: scale,
        a: xs(x, beta, 0, false),
        b: xs(x, beta, 1, true),
        out: sOut(beta),
      })),
    )
    const scores = tf.add(raw, bias)
    raw.dispose()
    const probs = tf.reshape(tf.softmax(scores), [t, p, t]) // [i, p, j]
    scores.dispose()
    const mask = dropSeed === undefined || dropRate <= 0 ? undefined : dropoutMultiplier([t, p, t], dropRate, dropSeed)
    const pd = mask === undefined ? probs : tf.mul(probs, mask)
    // O[i,p,c] = Σ_j P[i,p,j]·V[j,p,c], written in the [t·b, h·d] row order
    const out = gemmToNewTensor(
      [n, hd],
      rows.map((beta) => ({
        batch: h,
        m: t,
        n: d,
        k: t,
        a: ss(pd, beta, false),
        b: xs(x, beta, 2, false),
        out: { off: beta * hd, sb: d, sr: or },
      })),
    ) as tf.Tensor2D
    save(mask === undefined ? [x, probs] : [x, probs, pd, mask])
    return {
      value: out,
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const [sx, sp, spd, sm] = saved as [tf.Tensor2D, tf.Tensor3D, tf.Tensor3D | undefined, tf.Tensor3D | undefined]
        const pUsed = spd ?? sp
        // dP[i,p,j] = Σ_c dO[i,p,c]·V[j,p,c]
        let dP: tf.Tensor = gemmToNewTensor(
          [t, p, t],
          rows.map((beta) => ({
            batch: h,
            m: t,
            n: t,
            k: d,
            a: os(dy, beta),
            b: xs(sx, beta, 2, true),
            out: sOut(beta),
          })),
        )
        if (sm !== undefined) dP = tf.mul(dP, sm)
        // softmax: dS = P ⊙ (dP − Σ_j P ⊙ dP)
        const dS = tf.mul(sp, tf.sub(dP, tf.sum(tf.mul(sp, dP), -1, true)))
        // dQ = scale·dS·K, dK = scale·dSᵀ·Q, dV = Pᵀ·dO, each into its third of the columns
        return gemmToNewTensor(
          [n, 3 * hd],
          rows.flatMap((beta) => [
            {
              batch: h,
              m: t,
              n: d,
              k: t,
              alpha: scale,
              a: ss(dS, beta, false),
              b: xs(sx, beta, 1, false),
              out: { off: beta * 3 * hd, sb: d, sr: xr },
            },
            {
              batch: h,
              m: t,
              n: d,
              k: t,
              alpha: scale,
              a: ss(dS, beta, true),
              b: xs(sx, beta, 0, false),
              out: { off: beta * 3 * hd + hd, sb: d, sr: xr },
            },
            {
              batch: h,
              m: t,
              n: d,
              k: t,
              a: ss(pUsed, beta, true),
              b: os(dy, beta),
              out: { off: beta * 3 * hd + 2 * hd, sb: d, sr: xr },
            },
          ]),
        )
      },
    }
  })
  return f(qkv) as tf.Tensor2D
}

/**
 * Weighted mean next-token NLL: Σᵢ wᵢ·(logsumexp(zᵢ) − zᵢ[yᵢ]) / max(Σ w, 1) for logits `[N, V]`.
 */
export function softmaxCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, weights: tf.Tensor1D): tf.Scalar {
  const [n, v] = logits.shape
  const flatIdx = tf.tidy(() =>
    tf.add(tf.mul(tf.range(0, n, 1, 'int32'), tf.scalar(v, 'int32')), tf.cast(labels, 'int32')),
  )
  const f = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const z = inputs[0] as tf.Tensor2D
    const save = inputs[1] as tf.GradSaveFunc
    const p = tf.softmax(z)
    const lse = tf.sub(tf.max(z, -1), tf.log(tf.max(p, -1)))
    const picked = tf.gather(tf.reshape(z, [-1]), flatIdx)
    const denom = tf.maximum(tf.sum(weights), 1)
    // Everything the gradient needs is saved: forward intermediates are disposed after the call.
    save([p, denom, labels, weights])
    return {
      value: tf.div(tf.sum(tf.mul(tf.sub(lse, picked), weights)), denom) as tf.Scalar,
      gradFunc: (dy: tf.Scalar, saved: tf.Tensor[]) => {
        const [probs, d, ys, ws] = saved as [tf.Tensor2D, tf.Scalar, tf.Tensor1D, tf.Tensor1D]
        // int32 oneHot then cast: wasm's oneHot with dtype float32 writes integer bit patterns.
        const g = tf.sub(probs, tf.cast(tf.oneHot(ys, v), 'float32'))
        return tf.mul(g, tf.reshape(tf.div(tf.mul(ws, dy), d), [n, 1]))
      },
    }
  })
  const out = f(logits) as tf.Scalar
  flatIdx.dispose()
  return out
}
