/**
 * Linear transfer-entropy proxy (core.md §13.6): with k lags, y = b[k:], design columns
 * X_b = (b[t−1], …, b[t−k]) and X_a likewise from a; least-squares fits of y on X_b and on
 * [X_b, X_a]; R² = 1 − SS_res/SS_tot (SS_tot about the mean of y; R² = 0 when SS_tot = 0);
 * returns max(0, R²_full − R²_restricted), the share of variance the source's past adds
 * (Granger-style; for Gaussian processes TE = −½·ln(1 − ΔR²/(1 − R²_restricted))).
 * The original fitted without an intercept ([D-29]), which credits the source with explaining
 * the mean; both fits include one here unless `intercept: false`. Returns 0 when the lengths
 * differ, when the series are not longer than k, or when a fit fails (the original's contract).
 * Least squares via `ml-matrix` (`solve` with SVD, robust to collinear lags).
 */
import { Matrix, solve } from 'ml-matrix'
import { MetricsError, MetricsErrorCode } from './errors.js'

/** Options of {@link transferEntropyProxy}. */
export interface TeProxyOptions {
  /** Number of lags (1). */
  k: number
  /** Fit an intercept (true; the original did not, [D-29]). */
  intercept: boolean
}

function rSquared(columns: number[][], y: number[], intercept: boolean): number {
  const n = y.length
  const cols = intercept ? [new Array<number>(n).fill(1), ...columns] : columns
  const X = new Matrix(n, cols.length)
  for (let j = 0; j < cols.length; j++) for (let i = 0; i < n; i++) X.set(i, j, (cols[j] as number[])[i] as number)
  const beta = solve(X, Matrix.columnVector(y), true)
  const fitted = X.mmul(beta)
  let mean = 0
  for (const v of y) mean += v
  mean /= n
  let ssRes = 0
  let ssTot = 0
  for (let i = 0; i < n; i++) {
    ssRes += ((y[i] as number) - fitted.get(i, 0)) ** 2
    ssTot += ((y[i] as number) - mean) ** 2
  }
  if (ssTot === 0) return 0
  return 1 - ssRes / ssTot
}

/** The linear TE proxy max(0, R²([X_b, X_a]) − R²(X_b)) of series a → b. */
export function transferEntropyProxy(
  seriesA: ArrayLike<number>,
  seriesB: ArrayLike<number>,
  options: Partial<TeProxyOptions> = {},
): number {
  const k = options.k ?? 1
  const intercept = options.intercept ?? true
  if (!Number.isInteger(k) || k < 1) {
    throw new MetricsError(
      MetricsErrorCode.ArgumentInvalid,
      `transferEntropyProxy: k must be a positive integer, got ${k}`,
    )
  }
  const n = seriesA.length
  if (seriesB.length !== n || n <= k) return 0
  const m = n - k
  const y = Array.from({ length: m }, (_, t) => seriesB[k + t] as number)
  const lags = (s: ArrayLike<number>): number[][] =>
    Array.from({ length: k }, (_, i) => Array.from({ length: m }, (_, t) => s[i + t] as number))
  try {
    const xb = lags(seriesB)
    const xa = lags(seriesA)
    const full = rSquared([...xb, ...xa], y, intercept)
    const restricted = rSquared(xb, y, intercept)
    const d = full - restricted
    return Number.isFinite(d) ? Math.max(0, d) : 0
  } catch {
    return 0
  }
}
