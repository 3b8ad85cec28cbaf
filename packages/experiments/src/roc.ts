/**
 * Detector statistics for the gate studies: ROC curve and AUC of a score that is higher for
 * positives (poisoned adapters), rates at a threshold, and seeded bootstrap confidence intervals.
 *
 *   AUC = P(S⁺ > S⁻) + ½·P(S⁺ = S⁻)   (the Mann–Whitney form, exact with ties)
 *
 * The bootstrap resamples positives and negatives separately (stratified), so every replicate has
 * both classes; AUC intervals are percentile intervals of R replicates. Rates (TPR, FPR, FNR) get
 * exact Clopper–Pearson intervals instead (see {@link rateEstimate}).
 *
 * The Trojan Detection Challenge metrics (issue 20) are here too: average precision (AUPR, the
 * step-wise area under the precision–recall curve, {@link averagePrecision}) and the FPR at 95 %
 * recall ({@link fprAtRecall}).
 */
import { createRng } from '@plora/common'
import { clopperPearson } from '@plora/metrics'
import { ExperimentsError, ExperimentsErrorCode } from './errors.js'

/** A point estimate with its confidence interval. */
export interface Estimate {
  value: number
  lo: number
  hi: number
  /** Sample size the estimate is computed on. */
  n: number
}

/** One ROC point: the rule `score > threshold` flags an item. */
export interface RocPoint {
  threshold: number
  tpr: number
  fpr: number
}

/** Mann–Whitney AUC of `pos` over `neg` (NaN when either is empty). */
export function rocAuc(pos: readonly number[], neg: readonly number[]): number {
  if (pos.length === 0 || neg.length === 0) return Number.NaN
  // O((n+m) log(n+m)) by ranks: AUC = (R⁺ − n⁺(n⁺+1)/2) / (n⁺ n⁻) with average ranks for ties.
  const all = [...pos.map((v) => ({ v, p: 1 })), ...neg.map((v) => ({ v, p: 0 }))].sort((a, b) => a.v - b.v)
  let rankSumPos = 0
  for (let i = 0; i < all.length; ) {
    let j = i
    while (j + 1 < all.length && all[j + 1]!.v === all[i]!.v) j++
    const avg = (i + j) / 2 + 1
    for (let k = i; k <= j; k++) if (all[k]!.p === 1) rankSumPos += avg
    i = j + 1
  }
  const n = pos.length
  return (rankSumPos - (n * (n + 1)) / 2) / (n * neg.length)
}

/** The ROC curve of `score > t` over every distinct threshold (from flag-nothing to flag-all). */
export function rocCurve(pos: readonly number[], neg: readonly number[]): RocPoint[] {
  const values = [...new Set([...pos, ...neg])].sort((a, b) => b - a)
  const rate = (xs: readonly number[], t: number) => (xs.length ? xs.filter((x) => x > t).length / xs.length : 0)
  const points: RocPoint[] = [{ threshold: Number.POSITIVE_INFINITY, tpr: 0, fpr: 0 }]
  for (const t of values) points.push({ threshold: t, tpr: rate(pos, t), fpr: rate(neg, t) })
  // below the smallest value everything is flagged
  points.push({ threshold: Number.NEGATIVE_INFINITY, tpr: pos.length ? 1 : 0, fpr: neg.length ? 1 : 0 })
  return points
}

function percentile(sorted: Float64Array, q: number, upper: boolean): number {
  let i = Math.floor(q * sorted.length) - (upper ? 1 : 0)
  i = Math.min(sorted.length - 1, Math.max(0, i))
  return sorted[i]!
}

/** Options of the bootstrap estimates. */
export interface BootstrapEstimateOptions {
  /** Resamples (default 2000). */
  nResamples: number
  /** Coverage (default 0.95). */
  ci: number
  seed: number
}

const DEFAULTS: BootstrapEstimateOptions = { nResamples: 2000, ci: 0.95, seed: 0 }

/** AUC with a stratified bootstrap percentile interval. */
export function aucEstimate(
  pos: readonly number[],
  neg: readonly number[],
  options: Partial<BootstrapEstimateOptions> = {},
): Estimate {
  return bootstrapEstimate(rocAuc, pos, neg, options)
}

/** Average precision with a stratified bootstrap percentile interval (as {@link aucEstimate}). */
export function averagePrecisionEstimate(
  pos: readonly number[],
  neg: readonly number[],
  options: Partial<BootstrapEstimateOptions> = {},
): Estimate {
  return bootstrapEstimate(averagePrecision, pos, neg, options)
}

/**
 * Average precision of `pos` over `neg` (NaN when `pos` is empty): AP = Σ_k (R_k − R_{k−1})·P_k
 * over the distinct scores t_1 > t_2 > … with the rule `score ≥ t_k`, precision P_k and recall
 * R_k there (ties enter together; scikit-learn's `average_precision_score`). A chance-level
 * detector has AP ≈ n⁺/(n⁺+n⁻), a perfect one 1.
 */
export function averagePrecision(pos: readonly number[], neg: readonly number[]): number {
  if (pos.length === 0) return Number.NaN
  const all = [...pos.map((v) => ({ v, p: 1 })), ...neg.map((v) => ({ v, p: 0 }))].sort((a, b) => b.v - a.v)
  let tp = 0
  let fp = 0
  let ap = 0
  for (let i = 0; i < all.length; ) {
    let j = i
    let dtp = 0
    while (j < all.length && all[j]!.v === all[i]!.v) {
      if (all[j]!.p === 1) dtp++
      else fp++
      j++
    }
    tp += dtp
    if (dtp > 0) ap += (dtp / pos.length) * (tp / (tp + fp))
    i = j
  }
  return ap
}

/** {@link fprAtRecall}: the operating point and its FPR with the exact interval. */
export interface RecallOperatingPoint {
  /** The rule is `score ≥ threshold` (NaN when there are no positives). */
  threshold: number
  /** Recall reached (≥ the target). */
  tpr: number
  /** FPR of the negatives at that threshold, Clopper–Pearson interval. */
  fpr: Estimate
}

/**
 * The FPR at a recall target (the TDC's FPR at 95 % TPR): the threshold is the largest score t
 * with #{pos ≥ t} ≥ ⌈recall·n⁺⌉, i.e. the ⌈recall·n⁺⌉-th largest positive score, and the FPR is
 * #{neg ≥ t}/n⁻ with its exact interval.
 */
export function fprAtRecall(
  pos: readonly number[],
  neg: readonly number[],
  recall = 0.95,
  options: Partial<BootstrapEstimateOptions> = {},
): RecallOperatingPoint {
  if (pos.length === 0) {
    return {
      threshold: Number.NaN,
      tpr: Number.NaN,
      fpr: { value: Number.NaN, lo: Number.NaN, hi: Number.NaN, n: neg.length },
    }
  }
  const sorted = [...pos].sort((a, b) => b - a)
  // ⌈recall·n⁺⌉ without floating-point overshoot (0.95·20 = 19.000000000000004)
  const k = Math.min(sorted.length, Math.max(1, Math.ceil(recall * sorted.length - 1e-9)))
  const t = sorted[k - 1]!
  return {
    threshold: t,
    tpr: pos.filter((x) => x >= t).length / pos.length,
    fpr: rateEstimate(
      neg.map((x) => x >= t),
      options,
    ),
  }
}

function bootstrapEstimate(
  stat: (pos: readonly number[], neg: readonly number[]) => number,
  pos: readonly number[],
  neg: readonly number[],
  options: Partial<BootstrapEstimateOptions>,
): Estimate {
  const o = { ...DEFAULTS, ...options }
  const value = stat(pos, neg)
  const n = pos.length + neg.length
  if (Number.isNaN(value)) return { value, lo: Number.NaN, hi: Number.NaN, n }
  const rng = createRng(o.seed)
  const reps = new Float64Array(o.nResamples)
  const p = new Array<number>(pos.length)
  const q = new Array<number>(neg.length)
  for (let b = 0; b < o.nResamples; b++) {
    for (let i = 0; i < pos.length; i++) p[i] = pos[rng.randbelow(pos.length)]!
    for (let i = 0; i < neg.length; i++) q[i] = neg[rng.randbelow(neg.length)]!
    reps[b] = stat(p, q)
  }
  reps.sort()
  const tail = (1 - o.ci) / 2
  return { value, lo: percentile(reps, tail, false), hi: percentile(reps, 1 - tail, true), n }
}

/**
 * A proportion of 0/1 outcomes with its exact (Clopper–Pearson) interval; NaN when empty.
 *
 * Not a bootstrap: a percentile bootstrap of 0 failures in 20 trials is the empty interval
 * [0, 0], which claims certainty that 20 trials cannot give; the exact interval is [0, 16.8 %].
 * The bounds solve P(X ≥ k | p_lo) = α/2 and P(X ≤ k | p_hi) = α/2 (checked against
 * `scipy.stats.binomtest(k, n).proportion_ci(method="exact")` in the tests). `nResamples` and
 * `seed` are accepted for a uniform call shape and ignored.
 */
export function rateEstimate(outcomes: readonly boolean[], options: Partial<BootstrapEstimateOptions> = {}): Estimate {
  const o = { ...DEFAULTS, ...options }
  const n = outcomes.length
  if (n === 0) return { value: Number.NaN, lo: Number.NaN, hi: Number.NaN, n }
  const k = outcomes.filter(Boolean).length
  const { lo, hi } = clopperPearson(k, n, o.ci)
  return { value: k / n, lo, hi, n }
}

/**
 * The smallest threshold whose false-positive rate on `neg` is at most `targetFp`, moved up to the
 * Gaussian tail bound μ + z·σ of `neg` when that is larger (small clean samples cannot show a 1 %
 * tail, so the fitted tail keeps a margin): flag `score > threshold`.
 *
 * @throws ExperimentsError `EXPERIMENTS_INPUT_INVALID` when `neg` is empty or `targetFp` ∉ (0, 1)
 */
export function thresholdForFp(neg: readonly number[], targetFp: number, z: number): number {
  if (neg.length === 0 || !(targetFp > 0 && targetFp < 1)) {
    throw new ExperimentsError(
      ExperimentsErrorCode.InputInvalid,
      `threshold: need clean scores and a target false-positive rate in (0, 1); found ${neg.length} scores and ${targetFp}`,
      { n: neg.length, targetFp },
    )
  }
  const sorted = [...neg].sort((a, b) => a - b)
  // At most floor(targetFp·n) negatives may exceed the threshold.
  const allowed = Math.floor(targetFp * sorted.length)
  const empirical = sorted[sorted.length - 1 - allowed]!
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length
  const sd = sorted.length > 1 ? Math.sqrt(sorted.reduce((a, b) => a + (b - mean) ** 2, 0) / (sorted.length - 1)) : 0
  return Math.max(empirical, mean + z * sd)
}
