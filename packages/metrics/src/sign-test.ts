/**
 * Exact sign test (core.md §13.8): n⁺ = #(d > 0), n⁻ = #(d < 0), n = n⁺ + n⁻ (zeros dropped).
 * Two-sided (default, the original's): k = min(n⁺, n⁻), p = min(1, 2·P(Bin(n, ½) ≤ k));
 * "greater": P(Bin(n, ½) ≥ n⁺); "less": P(Bin(n, ½) ≤ n⁺) — scipy's `binomtest(n⁺, n, 0.5)`,
 * checked against scipy 1.10.1 goldens. n = 0 gives p = 1 (scipy raises). The binomial CDF comes
 * from `@stdlib` (regularised incomplete beta), so large n neither overflows C(n, i) nor
 * underflows 2⁻ⁿ the way the original's direct sum would; P(X ≥ k) is taken as P(X ≤ n − k)
 * (symmetry at ½) so small upper tails keep their relative accuracy.
 */
import binomialCdf from '@stdlib/stats-base-dists-binomial-cdf'
import { MetricsError, MetricsErrorCode } from './errors.js'
import type { Alternative } from './wilcoxon.js'

/** Options of {@link signTest}. */
export interface SignTestOptions {
  /** Default "two-sided"; "greater" means more positive differences than chance. */
  alternative: Alternative
}

/** Result of {@link signTest}. */
export interface SignTestResult {
  /** Number of positive differences. */
  nPositive: number
  /** Number of negative differences. */
  nNegative: number
  /** Number of zero differences (dropped from the test). */
  nZero: number
  /** Exact p-value for the chosen alternative. */
  pValue: number
  /** The smallest attainable p for this n: 2/2ⁿ two-sided, 1/2ⁿ one-sided (1 when n = 0). */
  pFloor: number
  /** True when every non-zero difference has the favoured sign (n ≥ 1), so pValue = pFloor. */
  atFloor: boolean
}

function tailLE(k: number, n: number): number {
  return Math.min(1, Math.max(0, binomialCdf(k, n, 0.5)))
}

/** Exact sign test of paired differences `d` (two-sided unless `alternative` says otherwise). */
export function signTest(d: ArrayLike<number>, options: Partial<SignTestOptions> = {}): SignTestResult {
  const alternative = options.alternative ?? 'two-sided'
  let nPositive = 0
  let nNegative = 0
  let nZero = 0
  for (let i = 0; i < d.length; i++) {
    const v = d[i] as number
    if (Number.isNaN(v)) {
      throw new MetricsError(MetricsErrorCode.ArgumentInvalid, `signTest: difference #${i} is NaN`, { index: i })
    }
    if (v > 0) nPositive++
    else if (v < 0) nNegative++
    else nZero++
  }
  const n = nPositive + nNegative
  if (n === 0) return { nPositive, nNegative, nZero, pValue: 1, pFloor: 1, atFloor: false }
  const p = (pos: number): number => {
    if (alternative === 'greater') return tailLE(n - pos, n)
    if (alternative === 'less') return tailLE(pos, n)
    return Math.min(1, 2 * tailLE(Math.min(pos, n - pos), n))
  }
  const favoured = alternative === 'less' ? 0 : n
  const atFloor = alternative === 'two-sided' ? nPositive === 0 || nNegative === 0 : nPositive === favoured
  return { nPositive, nNegative, nZero, pValue: p(nPositive), pFloor: p(favoured), atFloor }
}
