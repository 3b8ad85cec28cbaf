/**
 * Network information-theoretic metrics of a swarm history (`plora net-it`; swarm.md §12.3).
 *
 * Series: x_a[t] = number of domains agent a holds after round t, for the agents of snapshot 0
 * in numeric order. Adaptive parameters as the original: k = 3 if T ≤ 5 else clamp(⌊√T⌋, 3, 10);
 * bins from the Freedman–Diaconis rule on all counts (Sturges when IQR = 0), clamped to [4, 16].
 *
 * Fixes of the original (swarm.md §12.3 REC, §16 items 21–22):
 * - agent–agent MI uses the plug-in estimator with Miller–Madow correction on these integer
 *   counts (KSG on tied counts mostly measured its jitter), so the matrix is symmetric and each
 *   unordered pair is reported once;
 * - confidence intervals use a circular block bootstrap (Politis & Romano 1992; block length
 *   ⌈T^{1/3}⌉) instead of resampling single time indices, which destroys temporal dependence;
 * - the MI null shuffles blocks of consecutive time points (block permutation) rather than single
 *   points, so short-range autocorrelation survives in the surrogates (a plain permutation makes
 *   any two autocorrelated series look dependent); long-range trends still do, so MI between
 *   series that all grow with time measures shared trend, not influence;
 * - the TE null keeps the target intact and breaks the source alignment (circular shifts when
 *   there are enough distinct shifts, else shuffles of the source past);
 * - the number of permutations per family is at least ⌈m/α⌉, so the smallest attainable p-value
 *   1/(P+1) is below BH's first threshold α/m.
 * Every random draw comes from `seed` through `deriveSeed(seed, label, i, j)`, so a pair's result
 * does not depend on the order in which pairs are computed.
 */
import { createRng, deriveSeed, type ProgressCallback } from '@plora/common'
import { createDiscreteMiEvaluator, symbolIds } from './discrete.js'
import { ItError, ItErrorCode } from './errors.js'
import type { HistorySnapshot } from './history.js'
import { mutualInformation } from './mutual-information.js'
import { shuffleInPlace, Xoshiro128 } from './shuffle.js'
import { createTeEvaluator, forEachTeSurrogate, prepareTransferEntropy } from './transfer-entropy.js'

/** The original's adaptive KSG k: 3 if T ≤ 5 else clamp(⌊√T⌋, 3, 10). */
export function adaptiveK(T: number): number {
  if (T <= 5) return 3
  return Math.min(10, Math.max(3, Math.floor(Math.sqrt(T))))
}

/** numpy's default (linear) percentile of sorted values at q ∈ [0, 100]. */
function percentileSorted(v: Float64Array, q: number): number {
  const pos = (v.length - 1) * (q / 100)
  const lo = Math.floor(pos)
  const hi = Math.min(v.length - 1, lo + 1)
  return (v[lo] as number) + ((v[hi] as number) - (v[lo] as number)) * (pos - lo)
}

/** The original's adaptive bin count (Freedman–Diaconis, Sturges when IQR = 0), clamped to [4, 16]. */
export function adaptiveBins(values: ArrayLike<number>): number {
  const n = values.length
  if (n <= 1) return 4
  const v = Float64Array.from(values).sort()
  const iqr = percentileSorted(v, 75) - percentileSorted(v, 25)
  const clamp = (b: number): number => Math.min(16, Math.max(4, b))
  if (iqr <= 0) return clamp(Math.ceil(Math.log2(Math.max(2, n))) + 1)
  const w = 2 * iqr * n ** (-1 / 3)
  return clamp(Math.ceil(((v[n - 1] as number) - (v[0] as number)) / w))
}

/** A multiple-testing correction (the CLI passes `@plora/metrics`' Benjamini–Hochberg). */
export type FdrCorrection = (pvals: readonly number[], alpha: number) => { threshold: number; rejected: boolean[] }

/** Collaborators of {@link computeNetIt}. */
export interface NetItComponents {
  /** Applied separately to the MI and TE p-value families. */
  fdr: FdrCorrection
  onProgress?: ProgressCallback
}

/** Options of {@link computeNetIt}. */
export interface NetItOptions {
  /** Bootstrap resamples per pair (200). */
  nBoot: number
  /** Minimum permutations per test (64, the original's); raised to ⌈m/α⌉ per family. */
  nPerm: number
  /** FDR level (0.05). */
  alpha: number
  /** CI coverage (0.95). */
  ci: number
  /** Seed of every draw (42). */
  seed: number
  /** MI estimator: "auto" (discrete + Miller–Madow for integer counts), or a fixed one. */
  miEstimator: 'auto' | 'discrete' | 'ksg1' | 'ksg2' | 'mixed'
  /**
   * MI null: "block" (default; shuffles blocks of `blockLength` consecutive time points, which keeps
   * short-range autocorrelation that a plain permutation destroys) or "permute" (the original's).
   */
  miNull: 'block' | 'permute'
  /** TE null: "auto" (shift when enough distinct shifts, else permute), "shift" or "permute". */
  teNull: 'auto' | 'shift' | 'permute'
  /** Block length of the bootstrap and of the MI block-permutation null (default ⌈T^{1/3}⌉). */
  blockLength?: number
}

/** Defaults of {@link computeNetIt}. */
export const DEFAULT_NET_IT_OPTIONS: NetItOptions = Object.freeze({
  nBoot: 200,
  nPerm: 64,
  alpha: 0.05,
  ci: 0.95,
  seed: 42,
  miEstimator: 'auto',
  miNull: 'block',
  teNull: 'auto',
})

/** `results/net_it_metrics.json`: the original's keys first, then the new ones (snake_case, a file format). */
export interface NetItResult {
  agents: number[]
  adaptive: { k: number; bins: number }
  /** N×N, symmetric, zero diagonal. */
  mi_matrix: number[][]
  /** "i-j" (i < j) → [lo, hi]. */
  mi_ci: Record<string, [number, number]>
  /** In `mi_pairs` order. */
  mi_pvals: number[]
  mi_bh: { threshold: number; rejected: boolean[] }
  /** N×N, TE(row agent → column agent), zero diagonal. */
  te_matrix: number[][]
  /** In `te_pairs` order. */
  te_pvals: number[]
  te_bh: { threshold: number; rejected: boolean[] }
  mi_pairs: Array<[number, number]>
  te_pairs: Array<[number, number]>
  /** "i-j" (ordered, source-target) → [lo, hi]. */
  te_ci: Record<string, [number, number]>
  /** TE minus the mean of its surrogates. */
  te_effective_matrix: number[][]
  settings: {
    T: number
    N: number
    mi_estimator: string
    mi_null: 'block' | 'permute'
    te_null: 'shift' | 'permute'
    te_k: 1
    n_boot: number
    n_perm_mi: number
    n_perm_te: number
    min_p_mi: number
    min_p_te: number
    alpha: number
    ci: number
    bootstrap: 'circular-block'
    block_length: number
    seed: number
  }
}

/** Circular block bootstrap indices of length n, blocks of length L, from `rng`. */
export function circularBlockIndices(
  n: number,
  L: number,
  rng: { randbelow(n: number): number },
  out: Int32Array,
): Int32Array {
  let w = 0
  while (w < n) {
    const s = rng.randbelow(n)
    for (let j = 0; j < L && w < n; j++) out[w++] = (s + j) % n
  }
  return out
}

function percentileCi(values: Float64Array, ci: number): [number, number] {
  const v = Float64Array.from(values).sort()
  const B = v.length
  const tail = (1 - ci) / 2
  const lo = v[Math.min(B - 1, Math.max(0, Math.floor(tail * B)))] as number
  const hi = v[Math.min(B - 1, Math.max(0, Math.floor((1 - tail) * B) - 1))] as number
  return [lo, hi]
}

/** Computes agent–agent MI and pairwise TE with CIs, permutation p-values and BH-FDR. */
export function computeNetIt(
  history: readonly HistorySnapshot[],
  options: Partial<NetItOptions>,
  components: NetItComponents,
): NetItResult {
  const o = { ...DEFAULT_NET_IT_OPTIONS, ...options }
  for (const key of ['nBoot', 'nPerm'] as const) {
    if (!Number.isInteger(o[key]) || o[key] < 1) {
      throw new ItError(ItErrorCode.ArgumentInvalid, `computeNetIt: ${key} must be a positive integer, got ${o[key]}`)
    }
  }
  if (history.length === 0) throw new ItError(ItErrorCode.HistoryInvalid, 'computeNetIt: the history has no snapshots')
  const ids = Object.keys(history[0] as object).sort((a, b) => Number(a) - Number(b))
  const agents = ids.map(Number)
  const N = agents.length
  const T = history.length
  const series = ids.map((id) => Float64Array.from(history, (snap) => (snap[id] ?? []).length))
  const all = new Float64Array(N * T)
  for (const [a, s] of series.entries()) all.set(s, a * T)
  const k = adaptiveK(T)
  const bins = adaptiveBins(all)
  const L = o.blockLength ?? Math.max(1, Math.ceil(T ** (1 / 3)))
  const progress = components.onProgress
  const miNull = o.miNull
  const order = new Int32Array(Math.ceil(T / L))
  const integerCounts = all.every((v) => Number.isInteger(v))
  const miEstimator = o.miEstimator === 'auto' ? (integerCounts ? 'discrete' : 'ksg1') : o.miEstimator

  const miPairs: Array<[number, number]> = []
  const tePairs: Array<[number, number]> = []
  for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) if (i !== j) tePairs.push([i, j])
  for (let i = 0; i < N; i++) for (let j = i + 1; j < N; j++) miPairs.push([i, j])
  const nPermMi = Math.max(o.nPerm, Math.ceil(miPairs.length / o.alpha))
  const nPermTe = Math.max(o.nPerm, Math.ceil(tePairs.length / o.alpha))
  const total = miPairs.length + tePairs.length
  progress?.({ status: 'start', task: 'net-it', total })

  const zeros = (): number[][] => Array.from({ length: N }, () => new Array<number>(N).fill(0))
  const miMatrix = zeros()
  const miCi: Record<string, [number, number]> = {}
  const miPvals: number[] = []
  const idx = new Int32Array(T)
  const ids0 = series.map((s) => symbolIds({ data: s, rows: T, cols: 1 }))
  let done = 0

  for (const [i, j] of miPairs) {
    const key = `${agents[i]}-${agents[j]}`
    const si = series[i] as Float64Array
    const sj = series[j] as Float64Array
    let mi: number
    let ci: [number, number]
    let p: number
    if (T <= 1) {
      mi = 0
      ci = [0, 0]
      p = 1
    } else if (miEstimator === 'discrete') {
      const xi = ids0[i] as ReturnType<typeof symbolIds>
      const xj = ids0[j] as ReturnType<typeof symbolIds>
      const evaluate = createDiscreteMiEvaluator(xi.ids, xi.count, xj.ids, xj.count, true)
      mi = evaluate()
      const boot = new Float64Array(o.nBoot)
      const brng = createRng(deriveSeed(o.seed, 'net-it-mi-boot', agents[i] as number, agents[j] as number))
      for (let b = 0; b < o.nBoot; b++) boot[b] = evaluate(xj.ids, circularBlockIndices(T, L, brng, idx))
      ci = percentileCi(boot, o.ci)
      const prng = new Xoshiro128(deriveSeed(o.seed, 'net-it-mi-perm', agents[i] as number, agents[j] as number))
      const perm = Int32Array.from(xj.ids)
      let ge = 0
      for (let b = 0; b < nPermMi; b++) {
        nextMiSurrogate(xj.ids, perm, miNull, L, prng, order)
        if (evaluate(perm) >= mi - 1e-12) ge++
      }
      p = (1 + ge) / (1 + nPermMi)
    } else {
      // Continuous estimators: slower, generic path (KSG with the adaptive k).
      const est = (a: ArrayLike<number>, b: ArrayLike<number>): number =>
        mutualInformation(a, b, { estimator: miEstimator, k }).mi
      mi = est(si, sj)
      const brng = createRng(deriveSeed(o.seed, 'net-it-mi-boot', agents[i] as number, agents[j] as number))
      const boot = new Float64Array(o.nBoot)
      const a = new Float64Array(T)
      const b2 = new Float64Array(T)
      for (let b = 0; b < o.nBoot; b++) {
        circularBlockIndices(T, L, brng, idx)
        for (let t = 0; t < T; t++) {
          a[t] = si[idx[t] as number] as number
          b2[t] = sj[idx[t] as number] as number
        }
        boot[b] = est(a, b2)
      }
      ci = percentileCi(boot, o.ci)
      const prng = new Xoshiro128(deriveSeed(o.seed, 'net-it-mi-perm', agents[i] as number, agents[j] as number))
      const perm = Float64Array.from(sj)
      let ge = 0
      for (let b = 0; b < nPermMi; b++) {
        nextMiSurrogate(sj, perm, miNull, L, prng, order)
        if (est(si, perm) >= mi - 1e-12) ge++
      }
      p = (1 + ge) / (1 + nPermMi)
    }
    ;(miMatrix[i] as number[])[j] = mi
    ;(miMatrix[j] as number[])[i] = mi
    miCi[key] = ci
    miPvals.push(p)
    progress?.({ status: 'progress', task: 'net-it', done: ++done, total })
  }

  const teMatrix = zeros()
  const teEff = zeros()
  const teCi: Record<string, [number, number]> = {}
  const tePvals: number[] = []
  let teNullUsed: 'shift' | 'permute' = o.teNull === 'permute' ? 'permute' : 'shift'
  for (const [i, j] of tePairs) {
    const key = `${agents[i]}-${agents[j]}`
    const prep = prepareTransferEntropy(series[i] as Float64Array, series[j] as Float64Array, { k: 1, bins })
    if (prep === null) {
      teCi[key] = [0, 0]
      tePvals.push(1)
      progress?.({ status: 'progress', task: 'net-it', done: ++done, total })
      continue
    }
    const evaluate = createTeEvaluator(prep, { k: 1, bins })
    const te = evaluate()
    const rows = prep.rows
    const minShift = Math.max(2, Math.ceil(rows / 20))
    const distinctShifts = Math.max(0, rows - 2 * minShift + 1)
    const method: 'shift' | 'permute' =
      o.teNull === 'auto' ? (distinctShifts >= nPermTe ? 'shift' : 'permute') : o.teNull
    teNullUsed = method
    let ge = 0
    let sum = 0
    const nSur = forEachTeSurrogate(
      prep,
      nPermTe,
      method,
      deriveSeed(o.seed, 'net-it-te-null', agents[i] as number, agents[j] as number),
      minShift,
      (col) => {
        const v = evaluate(col)
        if (v >= te - 1e-12) ge++
        sum += v
      },
    )
    const brng = createRng(deriveSeed(o.seed, 'net-it-te-boot', agents[i] as number, agents[j] as number))
    const rowIdx = new Int32Array(rows)
    const boot = new Float64Array(o.nBoot)
    for (let b = 0; b < o.nBoot; b++) boot[b] = evaluate(prep.ap, circularBlockIndices(rows, L, brng, rowIdx))
    ;(teMatrix[i] as number[])[j] = te
    ;(teEff[i] as number[])[j] = te - (nSur > 0 ? sum / nSur : 0)
    teCi[key] = percentileCi(boot, o.ci)
    tePvals.push((1 + ge) / (1 + nSur))
    progress?.({ status: 'progress', task: 'net-it', done: ++done, total })
  }

  const miBh = components.fdr(miPvals, o.alpha)
  const teBh = components.fdr(tePvals, o.alpha)
  progress?.({ status: 'done', task: 'net-it' })
  return {
    agents,
    adaptive: { k, bins },
    mi_matrix: miMatrix,
    mi_ci: miCi,
    mi_pvals: miPvals,
    mi_bh: { threshold: miBh.threshold, rejected: miBh.rejected },
    te_matrix: teMatrix,
    te_pvals: tePvals,
    te_bh: { threshold: teBh.threshold, rejected: teBh.rejected },
    mi_pairs: miPairs.map(([i, j]) => [agents[i] as number, agents[j] as number]),
    te_pairs: tePairs.map(([i, j]) => [agents[i] as number, agents[j] as number]),
    te_ci: teCi,
    te_effective_matrix: teEff,
    settings: {
      T,
      N,
      mi_estimator: miEstimator,
      mi_null: o.miNull,
      te_null: teNullUsed,
      te_k: 1,
      n_boot: o.nBoot,
      n_perm_mi: nPermMi,
      n_perm_te: nPermTe,
      min_p_mi: 1 / (1 + nPermMi),
      min_p_te: 1 / (1 + nPermTe),
      alpha: o.alpha,
      ci: o.ci,
      bootstrap: 'circular-block',
      block_length: L,
      seed: o.seed,
    },
  }
}

/**
 * Writes the next MI surrogate of `src` into `out`: a plain shuffle, or a block permutation
 * (the ⌈T/L⌉ blocks of L consecutive points, last one shorter, concatenated in shuffled order).
 */
function nextMiSurrogate(
  src: Int32Array | Float64Array,
  out: Int32Array | Float64Array,
  method: 'block' | 'permute',
  L: number,
  rng: Xoshiro128,
  order: Int32Array,
): void {
  if (method === 'permute' || L <= 1) {
    shuffleInPlace(out, rng)
    return
  }
  const T = src.length
  for (let b = 0; b < order.length; b++) order[b] = b
  shuffleInPlace(order, rng)
  let w = 0
  for (const b of order) {
    const end = Math.min(T, (b + 1) * L)
    for (let t = b * L; t < end; t++) out[w++] = src[t] as number
  }
}
