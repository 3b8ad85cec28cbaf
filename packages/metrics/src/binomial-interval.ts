/**
 * The exact (Clopper–Pearson, 1934) confidence interval of a binomial proportion k/n: the bounds
 * solve P(X ≥ k | p_lo) = α/2 and P(X ≤ k | p_hi) = α/2, with lo = 0 at k = 0 and hi = 1 at k = n.
 * Equivalent to the Beta quantiles B(α/2; k, n−k+1) and B(1−α/2; k+1, n−k) (scipy's
 * `binomtest(k, n).proportion_ci(method="exact")`); found here by bisection on `@stdlib`'s binomial
 * CDF, which is monotone in p, to about 1e-15.
 */
import binomialCdf from '@stdlib/stats-base-dists-binomial-cdf'
import { MetricsError, MetricsErrorCode } from './errors.js'

/** A proportion with its exact interval. */
export interface BinomialInterval {
  /** k / n (NaN when n = 0). */
  rate: number
  lo: number
  hi: number
  k: number
  n: number
}

/** The p in [0, 1] where the decreasing function f(p) crosses `target`. */
function crossing(f: (p: number) => number, target: number): number {
  let lo = 0
  let hi = 1
  for (let it = 0; it < 60; it++) {
    const mid = (lo + hi) / 2
    if (f(mid) > target) lo = mid
    else hi = mid
  }
  return (lo + hi) / 2
}

/**
 * Exact two-sided interval of k successes in n trials at confidence `ci` (default 0.95); NaN
 * bounds when n = 0.
 *
 * @example
 * clopperPearson(0, 20) // { rate: 0, lo: 0, hi: 0.168…, k: 0, n: 20 }
 * @throws MetricsError `METRICS_ARGUMENT_INVALID` unless 0 ≤ k ≤ n are integers and ci ∈ (0, 1)
 */
export function clopperPearson(k: number, n: number, ci = 0.95): BinomialInterval {
  if (!Number.isInteger(k) || !Number.isInteger(n) || k < 0 || n < 0 || k > n || !(ci > 0 && ci < 1)) {
    throw new MetricsError(
      MetricsErrorCode.ArgumentInvalid,
      `clopperPearson: expected integers 0 <= k <= n and ci in (0, 1), found k=${k}, n=${n}, ci=${ci}`,
      { k, n, ci },
    )
  }
  if (n === 0) return { rate: Number.NaN, lo: Number.NaN, hi: Number.NaN, k, n }
  const alpha = 1 - ci
  const lo = k === 0 ? 0 : crossing((p) => binomialCdf(k - 1, n, p), 1 - alpha / 2)
  const hi = k === n ? 1 : crossing((p) => binomialCdf(k, n, p), alpha / 2)
  return { rate: k / n, lo, hi, k, n }
}
