/**
 * Multiple-comparison corrections.
 *
 * Benjamini–Hochberg (1995) step-up FDR control (swarm.md §11.4, core.md §14): sort p ascending
 * (ties by original index), k* = max{r : p₍r₎ ≤ (r/m)·α}, threshold = p₍k*₎ (0 when none), reject
 * every pᵢ ≤ threshold. The adjusted p-values are q₍r₎ = min_{s≥r} min(1, p₍s₎/(s/m)).
 *
 * Holm (1979) step-down FWER control: walk the sorted p-values, reject while p₍r₎ ≤ α/(m − r + 1);
 * adjusted p₍r₎ = max_{s≤r} min(1, p₍s₎·(m − s + 1)).
 *
 * The floating-point operations are those of statsmodels' `multipletests(method="fdr_bh" |
 * "holm")` (the BH step is compared as `p ≤ (r/m)·α` and adjusted as `p/(r/m)`, not `α·r/m` and
 * `m·p/r`, which round differently on the step boundaries), so adjusted values and reject flags
 * agree with statsmodels 0.13.5 bit for bit on the committed goldens, including p exactly on a
 * boundary, ties, p = 0 and p = 1. Empty input gives empty results (statsmodels divides by zero).
 */
import { MetricsError, MetricsErrorCode } from './errors.js'

/** Result of a multiple-testing correction; arrays are in the input order. */
export interface MultipleTestingResult {
  /** BH: the largest p-value rejected (0 when none); Holm: the last rejected p-value (0 when none). */
  threshold: number
  rejected: boolean[]
  /** Adjusted p-values (BH q-values or Holm-adjusted p). */
  adjusted: number[]
}

function checkInputs(pvals: ArrayLike<number>, alpha: number, where: string): void {
  if (!(alpha > 0 && alpha < 1)) {
    throw new MetricsError(MetricsErrorCode.ArgumentInvalid, `${where}: alpha must be in (0, 1), got ${alpha}`, {
      alpha,
    })
  }
  for (let i = 0; i < pvals.length; i++) {
    const p = pvals[i] as number
    if (!(p >= 0 && p <= 1)) {
      throw new MetricsError(MetricsErrorCode.ArgumentInvalid, `${where}: p-value #${i} is ${p}; expected [0, 1]`, {
        index: i,
        value: p,
      })
    }
  }
}

function ascendingOrder(pvals: ArrayLike<number>): number[] {
  return Array.from({ length: pvals.length }, (_, i) => i).sort(
    (a, b) => (pvals[a] as number) - (pvals[b] as number) || a - b,
  )
}

/** Benjamini–Hochberg FDR at level `alpha` (default 0.05). */
export function benjaminiHochberg(pvals: ArrayLike<number>, alpha = 0.05): MultipleTestingResult {
  checkInputs(pvals, alpha, 'benjaminiHochberg')
  const m = pvals.length
  if (m === 0) return { threshold: 0, rejected: [], adjusted: [] }
  const order = ascendingOrder(pvals)
  let kStar = 0
  for (let r = 1; r <= m; r++) if ((pvals[order[r - 1] as number] as number) <= (r / m) * alpha) kStar = r
  const threshold = kStar > 0 ? (pvals[order[kStar - 1] as number] as number) : 0
  const rejected = Array.from({ length: m }, (_, i) => kStar > 0 && (pvals[i] as number) <= threshold)
  const adjusted = new Array<number>(m)
  let running = 1
  for (let r = m; r >= 1; r--) {
    const i = order[r - 1] as number
    running = Math.min(running, (pvals[i] as number) / (r / m))
    adjusted[i] = Math.min(1, running)
  }
  return { threshold, rejected, adjusted }
}

/** Holm–Bonferroni step-down correction at level `alpha` (default 0.05). */
export function holm(pvals: ArrayLike<number>, alpha = 0.05): MultipleTestingResult {
  checkInputs(pvals, alpha, 'holm')
  const m = pvals.length
  const order = ascendingOrder(pvals)
  const rejected = new Array<boolean>(m).fill(false)
  let threshold = 0
  for (let r = 1; r <= m; r++) {
    const i = order[r - 1] as number
    if ((pvals[i] as number) > alpha / (m - r + 1)) break
    rejected[i] = true
    threshold = pvals[i] as number
  }
  const adjusted = new Array<number>(m)
  let running = 0
  for (let r = 1; r <= m; r++) {
    const i = order[r - 1] as number
    running = Math.max(running, Math.min(1, (pvals[i] as number) * (m - r + 1)))
    adjusted[i] = running
  }
  return { threshold, rejected, adjusted }
}
