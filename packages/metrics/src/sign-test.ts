/**
 * Two-sided exact sign test (core.md §13.8): n⁺ = #(d > 0), n⁻ = #(d < 0), n = n⁺ + n⁻
 * (zeros dropped), k = min(n⁺, n⁻), p = min(1, 2·P(Bin(n, ½) ≤ k)). n = 0 gives p = 1.
 * The binomial CDF comes from `@stdlib` (regularised incomplete beta), so large n neither
 * overflows C(n, i) nor underflows 2⁻ⁿ the way the original's direct sum would.
 */
import binomialCdf from '@stdlib/stats-base-dists-binomial-cdf'
import { MetricsError, MetricsErrorCode } from './errors.js'

/** Result of {@link signTest}. */
export interface SignTestResult {
  /** Number of positive differences. */
  nPositive: number
  /** Number of negative differences. */
  nNegative: number
  /** Two-sided exact p-value. */
  pValue: number
}

/** Exact two-sided sign test of paired differences `d`. */
export function signTest(d: ArrayLike<number>): SignTestResult {
  let nPositive = 0
  let nNegative = 0
  for (let i = 0; i < d.length; i++) {
    const v = d[i] as number
    if (Number.isNaN(v)) {
      throw new MetricsError(MetricsErrorCode.ArgumentInvalid, `signTest: difference #${i} is NaN`, { index: i })
    }
    if (v > 0) nPositive++
    else if (v < 0) nNegative++
  }
  const n = nPositive + nNegative
  if (n === 0) return { nPositive, nNegative, pValue: 1 }
  const k = Math.min(nPositive, nNegative)
  return { nPositive, nNegative, pValue: Math.min(1, 2 * binomialCdf(k, n, 0.5)) }
}
