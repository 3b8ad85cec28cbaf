/**
 * Standard normal helpers on top of `@stdlib` (well-kept Cephes/FreeBSD ports), so that tail
 * probabilities stay accurate far into the tails (scipy's `norm.sf` is `0.5·erfc(z/√2)` too).
 */
import erfc from '@stdlib/math-base-special-erfc'
import quantile from '@stdlib/stats-base-dists-normal-quantile'

/** Φ(x), the standard normal CDF. */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2)
}

/** 1 − Φ(x), computed without cancellation. */
export function normalSf(x: number): number {
  return 0.5 * erfc(x / Math.SQRT2)
}

/** Φ⁻¹(p) for p in (0, 1); ±Infinity at 0 and 1. */
export function normalQuantile(p: number): number {
  return quantile(p, 0, 1)
}
