/**
 * Robust statistics of the gate (median, MAD, robust z-scores; spec core.md §6.4). The factor
 * maths of a LoRA update (‖s·B·A‖_F, singular values via the r×r Gram matrices) lives in
 * `@plora/peft` and is re-exported here for existing callers.
 */
export {
  factorSingularValues,
  type LoraFactors,
  type ModuleUpdateStats,
  moduleUpdateStats,
} from '@plora/peft'

/** Median (mean of the two middle values for even length); NaN for an empty list. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/** Median absolute deviation (unscaled). */
export function mad(xs: readonly number[]): number {
  const m = median(xs)
  return median(xs.map((x) => Math.abs(x - m)))
}

/** The consistency constant making 1.4826·MAD estimate σ for normal data. */
export const MAD_TO_SIGMA = 1.4826

/**
 * Robust z-scores |x − median| / (1.4826·MAD) within one population (spec core.md §6.4); when
 * MAD = 0 the original's convention applies: 10 for values off the median, 0 otherwise.
 */
export function robustZ(xs: readonly number[]): number[] {
  if (xs.length < 2) return xs.map(() => 0)
  const m = median(xs)
  const d = xs.map((x) => Math.abs(x - m))
  const s = median(d)
  return d.map((di) => (s > 0 ? di / (MAD_TO_SIGMA * s) : di > 0 ? 10 : 0))
}

/** Like {@link robustZ} but signed: negative below the median (used where only large values matter). */
export function signedRobustZ(xs: readonly number[]): number[] {
  const m = median(xs)
  return robustZ(xs).map((z, i) => (xs[i]! < m ? -z : z))
}
