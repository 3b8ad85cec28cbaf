/**
 * Wilcoxon signed-rank test for paired differences, reproducing `scipy.stats.wilcoxon` of scipy
 * 1.10 (Debian bookworm's `python3-scipy` 1.10.1), two-sided by default, no continuity correction
 * unless asked. Reference: Wilcoxon (1945); Pratt (1959) and Cureton (1967) for the zero handling.
 *
 * Statistic: rank |dᵢ| with average ranks (zeros included for "pratt"/"zsplit", dropped for
 * "wilcox"); R⁺ = Σ ranks of dᵢ > 0, R⁻ = Σ ranks of dᵢ < 0 ("zsplit" adds half the zero ranks
 * to each). Two-sided: T = min(R⁺, R⁻); one-sided: T = R⁺.
 *
 * `method: "auto"` (scipy 1.10): n ≤ 50 → exact, else normal approximation; any zero forces the
 * approximation. Exact: the null pmf of R⁺ over the 2ⁿ sign assignments; like scipy 1.10, R⁺ is
 * truncated to an integer when ties make it fractional (a known scipy-1.10 simplification —
 * use `method: "permutation"` for the exact sign-flip test on tied data, which is what the
 * spec's scipy-1.16 reading does for n ≤ 13, core.md §13.8).
 * Normal approximation: μ = n(n+1)/4, σ² = [n(n+1)(2n+1) − ½Σ(t³ − t)]/24 over tie groups t of
 * the ranks; "pratt" subtracts n₀(n₀+1)/4 from μ and n₀(n₀+1)(2n₀+1) from 24σ² and excludes the
 * zero ranks from the tie sum; z = (T − μ − c)/σ, p = 2·(1 − Φ(|z|)).
 *
 * Departures from scipy, on purpose: an all-zero input with zero method "wilcox" or "pratt"
 * returns { statistic: 0, pValue: 1, method: "degenerate" } where scipy raises (core.md §13.8 edge
 * cases; "zsplit" is defined there and follows scipy); non-finite input throws
 * METRICS_ARGUMENT_INVALID where scipy propagates NaN. An empty input returns NaNs as scipy does.
 *
 * Floor: every result carries `pFloor`, the smallest p-value attainable for the same |dᵢ| and
 * options (all non-zero signs the favoured way), and `atFloor` when the data are that extreme —
 * e.g. the original's stored p = 2.049e-43 (n = 254) is exactly the normal-approximation floor and
 * says only "all 254 improved" (pipelines.md §9.5). Both are checked against scipy in the goldens.
 */
import { MetricsError, MetricsErrorCode } from './errors.js'
import { normalCdf, normalSf } from './normal.js'
import { numpyPairwiseSum } from './pairwise-sum.js'
import { averageRanks } from './ranks.js'

/** How zero differences are treated (scipy's `zero_method`). */
export type WilcoxonZeroMethod = 'wilcox' | 'pratt' | 'zsplit'
/** Alternative hypothesis. */
export type Alternative = 'two-sided' | 'less' | 'greater'

/** Options of {@link wilcoxonSignedRank}. */
export interface WilcoxonOptions {
  /** Zero handling; default "wilcox" (scipy's default). The original plora uses "pratt". */
  zeroMethod: WilcoxonZeroMethod
  /** Apply the ±0.5 continuity correction in the normal approximation (default false). */
  correction: boolean
  /** Default "two-sided". */
  alternative: Alternative
  /** "auto" (scipy 1.10 rule), "exact", "approx", or "permutation" (exact sign-flip test, n ≤ 24). */
  method: 'auto' | 'exact' | 'approx' | 'permutation'
}

/** Defaults of {@link wilcoxonSignedRank}, scipy 1.10's. */
export const DEFAULT_WILCOXON_OPTIONS: WilcoxonOptions = Object.freeze({
  zeroMethod: 'wilcox',
  correction: false,
  alternative: 'two-sided',
  method: 'auto',
})

/** Result of {@link wilcoxonSignedRank}. */
export interface WilcoxonResult {
  /** T = min(R⁺, R⁻) (two-sided) or R⁺ (one-sided). */
  statistic: number
  pValue: number
  /** The method that produced `pValue` after the auto switch. */
  method: 'exact' | 'approx' | 'permutation' | 'degenerate'
  /** The z statistic when the normal approximation was used. */
  z?: number
  /** Number of differences > 0, < 0 and = 0 in the input (before any zero is dropped). */
  nPositive: number
  nNegative: number
  nZero: number
  /**
   * The smallest p-value this test can give for these |dᵢ| (same n, zeros and ties, same method
   * and options): the p-value when every non-zero difference has the sign the alternative favours
   * (either sign for two-sided). Exact path, no zeros: 2/2ⁿ two-sided, 1/2ⁿ one-sided; normal
   * approximation: the tail at the extreme statistic (e.g. 2.049e-43 for n = 254 untied, Pratt).
   * NaN for empty input, 1 for all-zero input.
   */
  pFloor: number
  /**
   * True when the observed signs are already that extreme (at least one non-zero difference and
   * all non-zero differences have the favoured sign), so `pValue === pFloor`: the p-value then
   * carries no information beyond "all n non-zero differences went one way" and reports should
   * say so instead of quoting it as evidence beyond that.
   */
  atFloor: boolean
}

// pmf of R⁺ for n untied, non-zero ranks; cached because paired tests call this repeatedly.
const pmfCache = new Map<number, Float64Array>()

/**
 * The null distribution of the signed-rank statistic R⁺ for n observations without ties:
 * P(R⁺ = s), s = 0..n(n+1)/2, built like scipy's `_get_wilcoxon_distr` (halving convolution).
 */
export function wilcoxonNullPmf(n: number): Float64Array {
  const hit = pmfCache.get(n)
  if (hit) return hit
  let c = new Float64Array([1])
  for (let k = 1; k <= n; k++) {
    const next = new Float64Array((k * (k + 1)) / 2 + 1)
    const m = c.length
    for (let s = 0; s < m; s++) next[s] = (c[s] as number) * 0.5
    const off = next.length - m
    for (let s = 0; s < m; s++) next[off + s] = (next[off + s] as number) + (c[s] as number) * 0.5
    c = next
  }
  if (n <= 400) pmfCache.set(n, c)
  return c
}

// Σ a[from..to), summed like numpy's `np.sum` so that p-values agree with scipy to the last bits.
function sumRange(a: Float64Array, from: number, to: number): number {
  const lo = Math.max(0, from)
  const hi = Math.min(a.length, to)
  return hi > lo ? numpyPairwiseSum(a, lo, hi - lo) : 0
}

/**
 * Wilcoxon signed-rank test of the paired differences `d` (e.g. per-example "after − before").
 *
 * @example
 * ```ts
 * wilcoxonSignedRank([1, 2, 3, -4, 5, 6, 7, 8, -9, 10], { zeroMethod: 'pratt' })
 * // → { statistic: 13, pValue: 0.16015625, method: 'exact', atFloor: false, pFloor: 0.001953125, … }
 * ```
 */
export function wilcoxonSignedRank(d: ArrayLike<number>, options: Partial<WilcoxonOptions> = {}): WilcoxonResult {
  const o = { ...DEFAULT_WILCOXON_OPTIONS, ...options }
  let nPositive = 0
  let nNegative = 0
  for (let i = 0; i < d.length; i++) {
    const v = d[i] as number
    if (!Number.isFinite(v)) {
      throw new MetricsError(
        MetricsErrorCode.ArgumentInvalid,
        `wilcoxonSignedRank: difference #${i} is ${v}; expected a finite number`,
        { index: i },
      )
    }
    if (v > 0) nPositive++
    else if (v < 0) nNegative++
  }
  const nZero = d.length - nPositive - nNegative
  const counts = { nPositive, nNegative, nZero }
  if (d.length === 0) {
    return {
      statistic: Number.NaN,
      pValue: Number.NaN,
      method: 'degenerate',
      ...counts,
      pFloor: Number.NaN,
      atFloor: false,
    }
  }
  // Departure from scipy (which raises for "wilcox"/"pratt"): all zeros → no evidence either way.
  // "zsplit" is well defined on all zeros (R⁺ = R⁻ = n(n+1)/4) and follows scipy.
  if (nZero === d.length && o.zeroMethod !== 'zsplit') {
    return { statistic: 0, pValue: 1, method: 'degenerate', ...counts, pFloor: 1, atFloor: false }
  }

  const diffs = Array.from(d)
  const observed = signedRankCore(diffs, nZero, o)
  let atFloor = nPositive + nNegative > 0
  if (o.alternative === 'less') atFloor &&= nPositive === 0
  else if (o.alternative === 'greater') atFloor &&= nNegative === 0
  else atFloor &&= nPositive === 0 || nNegative === 0
  let pFloor: number
  if (atFloor) pFloor = observed.pValue
  else if (observed.method === 'permutation') {
    // one sign pattern (two for two-sided) reaches the extreme; zeros carry no sign
    const m = nPositive + nNegative
    pFloor = Math.min(1, (o.alternative === 'two-sided' ? 2 : 1) / 2 ** m)
  } else {
    const sign = o.alternative === 'less' ? -1 : 1
    pFloor = signedRankCore(
      diffs.map((v) => sign * Math.abs(v)),
      nZero,
      o,
    ).pValue
  }
  return { ...observed, ...counts, pFloor, atFloor }
}

interface CoreResult {
  statistic: number
  pValue: number
  method: 'exact' | 'approx' | 'permutation'
  z?: number
}

// The test on finite, not-all-zero differences (scipy 1.10's algorithm, see the file header).
function signedRankCore(input: number[], nZero: number, o: WilcoxonOptions): CoreResult {
  let diffs = input
  let mode = o.method
  if (mode === 'auto') mode = diffs.length <= 50 ? 'exact' : 'approx'
  if (nZero > 0 && mode === 'exact') mode = 'approx'
  // scipy drops zeros only in the approximate branch for "wilcox"; the exact branch never sees zeros.
  if ((mode === 'approx' || mode === 'permutation') && o.zeroMethod === 'wilcox') diffs = diffs.filter((v) => v !== 0)

  const count = diffs.length
  const { ranks } = averageRanks(diffs.map(Math.abs))
  let rPlus = 0
  let rMinus = 0
  let rZero = 0
  for (let i = 0; i < count; i++) {
    const v = diffs[i] as number
    if (v > 0) rPlus += ranks[i] as number
    else if (v < 0) rMinus += ranks[i] as number
    else rZero += ranks[i] as number
  }
  if (o.zeroMethod === 'zsplit') {
    rPlus += rZero / 2
    rMinus += rZero / 2
  }
  const statistic = o.alternative === 'two-sided' ? Math.min(rPlus, rMinus) : rPlus

  if (mode === 'approx') {
    let mn = count * (count + 1) * 0.25
    let se = count * (count + 1) * (2 * count + 1)
    let tieRanks: number[] = Array.from(ranks)
    if (o.zeroMethod === 'pratt') {
      tieRanks = tieRanks.filter((_, i) => diffs[i] !== 0)
      mn -= nZero * (nZero + 1) * 0.25
      se -= nZero * (nZero + 1) * (2 * nZero + 1)
    }
    let tieSum = 0
    for (const t of averageRanks(tieRanks).tieSizes) tieSum += t * (t * t - 1)
    se -= 0.5 * tieSum
    se = Math.sqrt(se / 24)
    let c = 0
    if (o.correction) {
      if (o.alternative === 'two-sided') c = 0.5 * Math.sign(statistic - mn)
      else c = o.alternative === 'less' ? -0.5 : 0.5
    }
    const z = (statistic - mn - c) / se
    let pValue: number
    if (o.alternative === 'two-sided') pValue = 2 * normalSf(Math.abs(z))
    else if (o.alternative === 'greater') pValue = normalSf(z)
    else pValue = normalCdf(z)
    return { statistic, pValue, method: 'approx', z }
  }

  if (mode === 'permutation') return { statistic, pValue: signFlipPValue(diffs, ranks, rPlus, o), method: mode }

  // exact: scipy 1.10 truncates a fractional R⁺ (ties) to an integer before indexing the pmf.
  const pmf = wilcoxonNullPmf(count)
  const r = Math.trunc(rPlus)
  let pValue: number
  if (o.alternative === 'two-sided') {
    if (r === Math.floor((pmf.length - 1) / 2)) pValue = 1
    else pValue = 2 * Math.min(sumRange(pmf, r, pmf.length), sumRange(pmf, 0, r + 1))
  } else if (o.alternative === 'greater') pValue = sumRange(pmf, r, pmf.length)
  else pValue = sumRange(pmf, 0, r + 1)
  return { statistic, pValue: Math.min(1, Math.max(0, pValue)), method: 'exact' }
}

// Exact sign-flip permutation test of R⁺ over all 2ⁿ sign assignments of the observed |d|
// (the ranks do not change under sign flips, so only the sign pattern varies).
function signFlipPValue(diffs: number[], ranks: Float64Array, rPlusObs: number, o: WilcoxonOptions): number {
  const n = diffs.length
  if (n > 24) {
    throw new MetricsError(
      MetricsErrorCode.ArgumentInvalid,
      `wilcoxonSignedRank: method "permutation" enumerates 2^n sign patterns; n = ${n} exceeds the limit of 24`,
      { n },
    )
  }
  const zeroHalf = o.zeroMethod === 'zsplit'
  let base = 0
  const active: number[] = []
  for (let i = 0; i < n; i++) {
    if (diffs[i] === 0) {
      if (zeroHalf) base += (ranks[i] as number) / 2
    } else active.push(ranks[i] as number)
  }
  const m = active.length
  const total = 2 ** m
  const tol = 1e-14 * Math.max(1, Math.abs(rPlusObs))
  let ge = 0
  let le = 0
  for (let mask = 0; mask < total; mask++) {
    let s = base
    for (let j = 0; j < m; j++) if (mask & (1 << j)) s += active[j] as number
    if (s >= rPlusObs - tol) ge++
    if (s <= rPlusObs + tol) le++
  }
  if (o.alternative === 'greater') return ge / total
  if (o.alternative === 'less') return le / total
  return Math.min(1, (2 * Math.min(ge, le)) / total)
}
