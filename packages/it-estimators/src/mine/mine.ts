/**
 * MINE — Mutual Information Neural Estimation (Belghazi et al. 2018, ICML, "Mutual Information
 * Neural Estimation"), on TensorFlow.js (swarm.md §11.2).
 *
 * A statistics network T_θ(x, y) — concat(x, y) → Linear(d → 64) → ReLU → Linear(64 → 64) → ReLU
 * → Linear(64 → 1), PyTorch's default U(±1/√fan_in) initialisation drawn from the seed — is
 * trained to maximise the Donsker–Varadhan bound
 *     I(X; Y) ≥ E_P[T] − ln E_{P_X ⊗ P_Y}[e^T],
 * with marginal samples (x_i, y_π(i)) from an independent permutation π. Adam(lr, β = 0.9/0.999,
 * ε = 1e-8) and global-norm gradient clipping at 1.0, as the original.
 *
 * Variants (`variant`):
 * - "mine" (default): the bias-corrected gradient of the paper (§3.2): the batch ratio
 *   ∇E[e^T]/E[e^T] is replaced by ∇E[e^T]/m̄, where m̄ is an exponential moving average (rate
 *   `emaRate`) of the batch E[e^T]. Implemented as the surrogate loss
 *   −(mean T_joint − mean e^{T_marg} / stop_gradient(m̄)), whose gradient is exactly that. The
 *   original kept m̄ but never used it ([D] swarm.md §16 item 20).
 * - "dv": the plain (biased-gradient) Donsker–Varadhan objective.
 * - "f": MINE-f, the f-divergence bound E_P[T] − E_Q[e^{T−1}].
 *
 * Reported estimate: the DV bound evaluated on a held-out split (`evalFraction`, default 20%)
 * that the network never trained on, with `evalPermutations` independent permutations for the
 * marginal term; the original reported an EMA of training-batch values (kept as `miTrain`).
 * Columns are standardised with the training split's mean and unbiased std (+1e-6).
 * Everything random (initialisation, batch order, permutations, split) flows from `seed`.
 *
 * This module imports only `@tensorflow/tfjs-core` and never picks a backend: the caller sets
 * one (e.g. `@plora/model`'s `initBackend`, or `tf.setBackend('cpu')` after importing
 * `@tensorflow/tfjs-backend-cpu`).
 */
import { createRng, deriveSeed, type ProgressCallback } from '@plora/common'
import * as tf from '@tensorflow/tfjs-core'
import { ItError, ItErrorCode } from '../errors.js'
import { checkSameRows, type SampleInput, type SampleMatrix, toMatrix } from '../matrix.js'

/** MINE configuration; the defaults are the original's `MineConfig` plus the fixes' knobs. */
export interface MineOptions {
  /** Hidden width (64). */
  hidden: number
  /** Adam learning rate (5e-4). */
  lr: number
  /** EMA rate of the bias correction and of the training-batch estimate (0.02). */
  emaRate: number
  /** Training epochs over the training split (300). */
  epochs: number
  /** Mini-batch size (256). */
  batchSize: number
  /** Objective: "mine" (EMA-corrected gradient), "dv" or "f". */
  variant: 'mine' | 'dv' | 'f'
  /** Share of the samples held out for the reported estimate (0.2). */
  evalFraction: number
  /** Independent permutations for the held-out marginal term (10). */
  evalPermutations: number
  /** Global gradient-norm clip (1.0). */
  clipNorm: number
  /** Seed of every random draw (0). */
  seed: number
  /** Progress events (one per epoch). */
  onProgress?: ProgressCallback
}

/** Defaults of {@link mineEstimate}. */
export const DEFAULT_MINE_OPTIONS: Omit<MineOptions, 'onProgress'> = Object.freeze({
  hidden: 64,
  lr: 5e-4,
  emaRate: 0.02,
  epochs: 300,
  batchSize: 256,
  variant: 'mine',
  evalFraction: 0.2,
  evalPermutations: 10,
  clipNorm: 1,
  seed: 0,
})

/** Result of {@link mineEstimate}. */
export interface MineResult {
  /** DV bound on the held-out split, nats (the reported estimate). */
  mi: number
  /** EMA of the training-batch DV values (what the original reported), nats. */
  miTrain: number
  nTrain: number
  nEval: number
  epochs: number
  steps: number
  variant: MineOptions['variant']
}

/** @internal One dense layer of the statistics network. */
export interface Layer {
  w: tf.Variable
  b: tf.Variable
}

function uniformInit(rng: ReturnType<typeof createRng>, fanIn: number, count: number): Float32Array {
  const bound = 1 / Math.sqrt(fanIn)
  const out = new Float32Array(count)
  for (let i = 0; i < count; i++) out[i] = (2 * rng.random() - 1) * bound
  return out
}

function makeLayer(rng: ReturnType<typeof createRng>, fanIn: number, fanOut: number): Layer {
  // tidy disposes the initial tensors; the variables (not tracked by tidy) survive.
  const w = uniformInit(rng, fanIn, fanIn * fanOut)
  const b = uniformInit(rng, fanIn, fanOut)
  return tf.tidy(() => ({ w: tf.variable(tf.tensor2d(w, [fanIn, fanOut])), b: tf.variable(tf.tensor1d(b)) }))
}

function standardise(m: SampleMatrix, rows: Int32Array): { mean: Float64Array; std: Float64Array } {
  const c = m.cols
  const mean = new Float64Array(c)
  const std = new Float64Array(c)
  for (const r of rows) for (let j = 0; j < c; j++) mean[j] = (mean[j] as number) + (m.data[r * c + j] as number)
  for (let j = 0; j < c; j++) mean[j] = (mean[j] as number) / rows.length
  for (const r of rows)
    for (let j = 0; j < c; j++) std[j] = (std[j] as number) + ((m.data[r * c + j] as number) - (mean[j] as number)) ** 2
  for (let j = 0; j < c; j++) std[j] = Math.sqrt((std[j] as number) / Math.max(1, rows.length - 1))
  return { mean, std }
}

function standardisedRows(
  m: SampleMatrix,
  rows: Int32Array,
  s: { mean: Float64Array; std: Float64Array },
): Float32Array {
  const c = m.cols
  const out = new Float32Array(rows.length * c)
  rows.forEach((r, i) => {
    for (let j = 0; j < c; j++)
      out[i * c + j] = ((m.data[r * c + j] as number) - (s.mean[j] as number)) / ((s.std[j] as number) + 1e-6)
  })
  return out
}

function toTensor(m: SampleMatrix, rows: Int32Array, s: { mean: Float64Array; std: Float64Array }): tf.Tensor2D {
  return tf.tensor2d(standardisedRows(m, rows, s), [rows.length, m.cols])
}

/** @internal Activations kept for the backward pass. */
export interface ForwardCache {
  z1: tf.Tensor2D
  h1: tf.Tensor2D
  z2: tf.Tensor2D
  h2: tf.Tensor2D
  out: tf.Tensor2D
}

/** @internal Forward pass of T_θ keeping the pre-activations (call inside tf.tidy). */
export function forward(layers: Layer[], h0: tf.Tensor2D): ForwardCache {
  const [l1, l2, l3] = layers as [Layer, Layer, Layer]
  const z1 = tf.add(tf.matMul(h0, l1.w as tf.Tensor2D), l1.b) as tf.Tensor2D
  const h1 = tf.relu(z1)
  const z2 = tf.add(tf.matMul(h1, l2.w as tf.Tensor2D), l2.b) as tf.Tensor2D
  const h2 = tf.relu(z2)
  const out = tf.add(tf.matMul(h2, l3.w as tf.Tensor2D), l3.b) as tf.Tensor2D
  return { z1, h1, z2, h2, out }
}

/**
 * Explicit backward pass of the 3-layer MLP given G = ∂L/∂T (shape [B, 1]). Written out because
 * `@tensorflow/tfjs-core`'s Node bundle registers no gradient functions (they ship with the
 * `@tensorflow/tfjs` union package), and this module may import tfjs-core only (@internal):
 *   dW3 = H2ᵀG, db3 = Σ G, dZ2 = (G·W3ᵀ) ⊙ [Z2 > 0], dW2 = H1ᵀdZ2, db2 = Σ dZ2,
 *   dZ1 = (dZ2·W2ᵀ) ⊙ [Z1 > 0], dW1 = H0ᵀdZ1, db1 = Σ dZ1.
 */
export function backward(
  layers: Layer[],
  h0: tf.Tensor2D,
  f: ForwardCache,
  g: tf.Tensor2D,
): Array<{ name: string; tensor: tf.Tensor }> {
  const [l1, l2, l3] = layers as [Layer, Layer, Layer]
  const dW3 = tf.matMul(f.h2, g, true, false)
  const db3 = tf.sum(g, 0)
  const dZ2 = tf.mul(tf.matMul(g, l3.w as tf.Tensor2D, false, true), tf.step(f.z2))
  const dW2 = tf.matMul(f.h1, dZ2, true, false)
  const db2 = tf.sum(dZ2, 0)
  const dZ1 = tf.mul(tf.matMul(dZ2, l2.w as tf.Tensor2D, false, true), tf.step(f.z1))
  const dW1 = tf.matMul(h0, dZ1, true, false)
  const db1 = tf.sum(dZ1, 0)
  return [
    { name: l1.w.name, tensor: dW1 },
    { name: l1.b.name, tensor: db1 },
    { name: l2.w.name, tensor: dW2 },
    { name: l2.b.name, tensor: db2 },
    { name: l3.w.name, tensor: dW3 },
    { name: l3.b.name, tensor: db3 },
  ]
}

/**
 * Estimates I(X; Y) in nats with MINE. Requires a TensorFlow.js backend to be set by the caller.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core'
 * import '@tensorflow/tfjs-backend-cpu'
 * await tf.setBackend('cpu')
 * const { mi } = await mineEstimate(xs, ys, { epochs: 100, seed: 1 })
 * ```
 */
export async function mineEstimate(
  x: SampleInput,
  y: SampleInput,
  options: Partial<MineOptions> = {},
): Promise<MineResult> {
  const o = { ...DEFAULT_MINE_OPTIONS, ...options }
  for (const key of ['hidden', 'epochs', 'batchSize', 'evalPermutations'] as const) {
    if (!Number.isInteger(o[key]) || o[key] < 1) {
      throw new ItError(ItErrorCode.ArgumentInvalid, `mineEstimate: ${key} must be a positive integer, got ${o[key]}`)
    }
  }
  if (!(o.evalFraction > 0 && o.evalFraction < 1)) {
    throw new ItError(
      ItErrorCode.ArgumentInvalid,
      `mineEstimate: evalFraction must be in (0, 1), got ${o.evalFraction}`,
    )
  }
  if (!['mine', 'dv', 'f'].includes(o.variant)) {
    throw new ItError(
      ItErrorCode.ArgumentInvalid,
      `mineEstimate: variant must be mine, dv or f, got ${String(o.variant)}`,
    )
  }
  const mx = toMatrix(x, 'X')
  const my = toMatrix(y, 'Y')
  checkSameRows(mx, my, 'mineEstimate')
  const n = mx.rows
  const nEval = Math.floor(n * o.evalFraction)
  const nTrain = n - nEval
  if (nEval < 2 || nTrain < 2) {
    throw new ItError(
      ItErrorCode.ArgumentInvalid,
      `mineEstimate: ${n} samples leave ${nTrain} for training and ${nEval} for evaluation; expected at least 2 each`,
    )
  }

  // Split, standardisation and tensors.
  const splitRng = createRng(deriveSeed(o.seed, 'mine-split'))
  const order = splitRng.shuffle(Array.from({ length: n }, (_, i) => i))
  const trainRows = Int32Array.from(order.slice(0, nTrain))
  const evalRows = Int32Array.from(order.slice(nTrain))
  const sx = standardise(mx, trainRows)
  const sy = standardise(my, trainRows)
  // Training batches are assembled on the JS side and uploaded as one [2b, dx+dy] tensor per step
  // (cheaper than gather + concat on the backend).
  const xTrain = standardisedRows(mx, trainRows, sx)
  const yTrain = standardisedRows(my, trainRows, sy)
  const xEval = toTensor(mx, evalRows, sx)
  const yEval = toTensor(my, evalRows, sy)

  const initRng = createRng(deriveSeed(o.seed, 'mine-init'))
  const d = mx.cols + my.cols
  const layers = [
    makeLayer(initRng, d, o.hidden),
    makeLayer(initRng, o.hidden, o.hidden),
    makeLayer(initRng, o.hidden, 1),
  ]
  const variables = layers.flatMap((l) => [l.w, l.b])
  const net = (xb: tf.Tensor2D, yb: tf.Tensor2D): tf.Tensor1D =>
    tf.tidy(() => tf.reshape(forward(layers, tf.concat([xb, yb], 1) as tf.Tensor2D).out, [-1]) as tf.Tensor1D)

  const optimizer = tf.train.adam(o.lr, 0.9, 0.999, 1e-8)
  const orderRng = createRng(deriveSeed(o.seed, 'mine-batches'))
  let maEt: number | null = null
  let miTrain: number | null = null
  let steps = 0
  const trainIdx = Array.from({ length: nTrain }, (_, i) => i)
  const margIdx = Array.from({ length: nTrain }, (_, i) => i)
  o.onProgress?.({ status: 'start', task: 'mine', total: o.epochs })
  try {
    for (let epoch = 0; epoch < o.epochs; epoch++) {
      orderRng.shuffle(trainIdx)
      // An independent permutation per epoch pairs x_i with y_π(i): samples of P_X ⊗ P_Y.
      orderRng.shuffle(margIdx)
      for (let start = 0; start < nTrain; start += o.batchSize) {
        const end = Math.min(nTrain, start + o.batchSize)
        const b = end - start
        const dx = mx.cols
        const dy = my.cols
        const stacked = new Float32Array(2 * b * d)
        for (let i = 0; i < b; i++) {
          const xi = trainIdx[start + i] as number
          const yi = margIdx[start + i] as number
          const rj = i * d
          const rm = (b + i) * d
          for (let j = 0; j < dx; j++) {
            const v = xTrain[xi * dx + j] as number
            stacked[rj + j] = v
            stacked[rm + j] = v
          }
          for (let j = 0; j < dy; j++) {
            stacked[rj + dx + j] = yTrain[xi * dy + j] as number
            stacked[rm + dx + j] = yTrain[yi * dy + j] as number
          }
        }
        // Forward pass on the stacked batch [joint; marginal], keeping the activations for backprop.
        tf.tidy(() => {
          const h0 = tf.tensor2d(stacked, [2 * b, d])
          const f = forward(layers, h0)
          const t = f.out.dataSync()
          // Loss gradients w.r.t. every output T: joint rows −1/b, marginal rows per variant.
          let sumJ = 0
          let maxM = Number.NEGATIVE_INFINITY
          for (let i = 0; i < b; i++) {
            sumJ += t[i] as number
            maxM = Math.max(maxM, t[b + i] as number)
          }
          let sumExp = 0
          for (let i = 0; i < b; i++) sumExp += Math.exp((t[b + i] as number) - maxM)
          const meanEt = Math.exp(maxM) * (sumExp / b)
          const dvStep = sumJ / b - (maxM + Math.log(sumExp / b))
          maEt = maEt === null ? meanEt : (1 - o.emaRate) * maEt + o.emaRate * meanEt
          miTrain = miTrain === null ? dvStep : (1 - o.emaRate) * miTrain + o.emaRate * dvStep
          const g = new Float32Array(2 * b)
          for (let i = 0; i < b; i++) {
            g[i] = -1 / b
            const tm = t[b + i] as number
            if (o.variant === 'mine')
              g[b + i] = Math.exp(tm) / (b * (maEt as number)) // EMA-corrected
            else if (o.variant === 'f') g[b + i] = Math.exp(tm - 1) / b
            else g[b + i] = Math.exp(tm - maxM) / sumExp // softmax: d logsumexp
          }
          const grads = backward(layers, h0, f, tf.tensor2d(g, [2 * b, 1]))
          // Global-norm clipping at clipNorm (computed on the device: no extra sync), then one Adam step.
          const norm = tf.sqrt(tf.addN(grads.map((gr) => tf.sum(tf.square(gr.tensor)))))
          const scale = tf.div(o.clipNorm, tf.maximum(norm, o.clipNorm))
          optimizer.applyGradients(grads.map((gr) => ({ name: gr.name, tensor: tf.mul(gr.tensor, scale) })))
        })
        steps++
      }
      o.onProgress?.({
        status: 'progress',
        task: 'mine',
        done: epoch + 1,
        total: o.epochs,
        info: { mi_train: miTrain ?? 0 },
      })
      // Yield to the event loop between epochs so callers can draw progress.
      await Promise.resolve()
    }

    // Held-out DV bound: mean T on joint pairs − log-mean-exp of T on permuted pairs.
    const evalRng = createRng(deriveSeed(o.seed, 'mine-eval'))
    const tmAll: number[] = []
    const tj = tf.tidy(() => tf.mean(net(xEval, yEval)).dataSync()[0] as number)
    const perm = Array.from({ length: nEval }, (_, i) => i)
    for (let p = 0; p < o.evalPermutations; p++) {
      evalRng.shuffle(perm)
      const idx = tf.tensor1d(Int32Array.from(perm), 'int32')
      const vals = tf.tidy(() => net(xEval, tf.gather(yEval, idx) as tf.Tensor2D).dataSync())
      idx.dispose()
      for (const v of vals) tmAll.push(v)
    }
    const mx2 = Math.max(...tmAll)
    let s = 0
    for (const v of tmAll) s += Math.exp(v - mx2)
    const mi = tj - (mx2 + Math.log(s / tmAll.length))
    o.onProgress?.({ status: 'done', task: 'mine', info: { mi } })
    return { mi, miTrain: miTrain ?? 0, nTrain, nEval, epochs: o.epochs, steps, variant: o.variant }
  } finally {
    optimizer.dispose()
    tf.dispose([xEval, yEval, ...variables])
  }
}

/** n samples of X, E ~ N(0, I_dims) and Y = ρX + √(1−ρ²)E from `seed`, with the true MI −(dims/2)·ln(1−ρ²). */
export function correlatedGaussians(
  rho: number,
  n: number,
  dims: number,
  seed: number,
): { x: SampleMatrix; y: SampleMatrix; miTrue: number } {
  if (!(rho > -1 && rho < 1))
    throw new ItError(ItErrorCode.ArgumentInvalid, `correlatedGaussians: rho must be in (−1, 1), got ${rho}`)
  const rng = createRng(seed)
  const xd = new Float64Array(n * dims)
  const yd = new Float64Array(n * dims)
  const s = Math.sqrt(1 - rho * rho)
  for (let i = 0; i < n * dims; i++) {
    const a = rng.gauss(0, 1)
    xd[i] = a
    yd[i] = rho * a + s * rng.gauss(0, 1)
  }
  return {
    x: { data: xd, rows: n, cols: dims },
    y: { data: yd, rows: n, cols: dims },
    miTrue: -(dims / 2) * Math.log(1 - rho * rho),
  }
}
