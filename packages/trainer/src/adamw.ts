/**
 * AdamW with global gradient-norm clipping, as PyTorch's `torch.optim.AdamW` and
 * `torch.nn.utils.clip_grad_norm_` compute them (spec pipelines.md §7.2 step 8).
 *
 * Clipping: `c = min(1, maxNorm / (‖g‖₂ + 1e-6))` over all gradients together, `g ← c·g`.
 * Step t (1-based), per parameter p with gradient g:
 *   p ← p·(1 − lr·λ)                       (decoupled weight decay, Loshchilov & Hutter 2019)
 *   m ← β₁·m + (1 − β₁)·g,  v ← β₂·v + (1 − β₂)·g²
 *   p ← p − lr · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε)
 * Defaults are PyTorch's: β = (0.9, 0.999), ε = 1e-8, λ = 0.01.
 *
 * tfjs ships Adam but not AdamW (its Adam has no decoupled decay and no global-norm clipping),
 * hence this small implementation over tfjs ops.
 */
import * as tf from '@tensorflow/tfjs-core'

/** Hyper-parameters of {@link AdamW}. */
export interface AdamWOptions {
  lr: number
  beta1: number
  beta2: number
  eps: number
  weightDecay: number
  /** Global gradient-norm clip; `Infinity` disables clipping. */
  maxGradNorm: number
}

/** PyTorch's AdamW defaults, with the original's lr (2e-4) and clip (1.0). */
export const DEFAULT_ADAMW_OPTIONS: AdamWOptions = {
  lr: 2e-4,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0.01,
  maxGradNorm: 1.0,
}

/** Result of one optimiser step. */
export interface AdamWStepInfo {
  /** ‖g‖₂ before clipping. */
  gradNorm: number
}

/** AdamW over a fixed list of variables. Call {@link AdamW.dispose} to free its moment tensors. */
export class AdamW {
  readonly options: AdamWOptions
  #step = 0
  readonly #m: tf.Variable[]
  readonly #v: tf.Variable[]

  readonly variables: readonly tf.Variable[]

  constructor(variables: readonly tf.Variable[], options: Partial<AdamWOptions> = {}) {
    this.variables = variables
    this.options = { ...DEFAULT_ADAMW_OPTIONS, ...options }
    // tidy frees the zero initial values; the variables survive it.
    this.#m = variables.map((x) => tf.tidy(() => tf.variable(tf.zerosLike(x), false)))
    this.#v = variables.map((x) => tf.tidy(() => tf.variable(tf.zerosLike(x), false)))
  }

  /** Steps taken so far. */
  get stepCount(): number {
    return this.#step
  }

  /**
   * Applies one update from `grads` (same order as `variables`); the caller keeps ownership of
   * `grads`. `lr` overrides the learning rate for this step (schedules).
   */
  async step(grads: readonly tf.Tensor[], lr = this.options.lr): Promise<AdamWStepInfo> {
    const o = this.options
    const normT = tf.tidy(() => tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g))))))
    const gradNorm = (await normT.data())[0]!
    normT.dispose()
    // Same rule as clip_grad_norm_: only ever scale down, with PyTorch's 1e-6 guard.
    const clip = Number.isFinite(o.maxGradNorm) ? Math.min(1, o.maxGradNorm / (gradNorm + 1e-6)) : 1
    this.#step += 1
    const t = this.#step
    const bc1 = 1 - o.beta1 ** t
    const bc2 = 1 - o.beta2 ** t
    tf.tidy(() => {
      this.variables.forEach((p, i) => {
        const g = clip === 1 ? grads[i]! : tf.mul(grads[i]!, clip)
        const m = tf.add(tf.mul(this.#m[i]!, o.beta1), tf.mul(g, 1 - o.beta1))
        const v = tf.add(tf.mul(this.#v[i]!, o.beta2), tf.mul(tf.square(g), 1 - o.beta2))
        this.#m[i]!.assign(m)
        this.#v[i]!.assign(v)
        const decayed = o.weightDecay === 0 ? p : tf.mul(p, 1 - lr * o.weightDecay)
        const denom = tf.add(tf.sqrt(tf.div(v, bc2)), o.eps)
        p.assign(tf.sub(decayed, tf.mul(tf.div(tf.div(m, bc1), denom), lr)))
      })
    })
    return { gradNorm }
  }

  /** Frees the moment estimates (not the variables). */
  dispose(): void {
    for (const x of [...this.#m, ...this.#v]) x.dispose()
  }
}
