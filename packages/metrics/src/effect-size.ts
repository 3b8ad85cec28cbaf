/**
 * Effect sizes of paired differences dᵢ = afterᵢ − beforeᵢ (reported beside the Wilcoxon p-value,
 * which says nothing about size once it sits at its floor).
 *
 * Matched-pairs rank-biserial correlation (Kerby 2014, "simple difference formula"): rank |dᵢ|
 * with average ranks for ties; r = (R⁺ − R⁻) / Σ ranks, in [−1, 1]; −1 when every difference
 * is negative (for ΔNLL: every example improved), +1 when every one is positive.
 * `zeroMethod: "wilcox"` (default) drops zeros before ranking, so Σ ranks = R⁺ + R⁻ and
 * r = (R⁺ − R⁻)/(R⁺ + R⁻); `"pratt"` (and `"zsplit"`, which gives the same value) ranks the zeros
 * with the rest and counts their ranks in the denominator only, pulling r towards 0.
 *
 * Cohen's d_z: mean(d) / sd(d) with the sample standard deviation (n − 1 in the denominator).
 *
 * Both follow numpy on degenerate input (goldens: scripts/golden/metrics-effect-size.py):
 * no non-zero difference ("wilcox") or no difference at all → NaN for r; "pratt" on all zeros → 0;
 * n < 2 → NaN for d_z; sd = 0 → ±Infinity (or NaN when the mean is 0 too).
 * Sums use numpy's pairwise order, so values agree with numpy to the last bits.
 */
import { MetricsError, MetricsErrorCode } from './errors.js'
import { numpyPairwiseSum } from './pairwise-sum.js'
import { averageRanks } from './ranks.js'
import type { WilcoxonZeroMethod } from './wilcoxon.js'

/** Options of {@link rankBiserial} and {@link pairedEffectSizes}. */
export interface RankBiserialOptions {
  /** Zero handling, as in the Wilcoxon test; default "wilcox" (zeros dropped). */
  zeroMethod: WilcoxonZeroMethod
}

/** Effect sizes of one set of paired differences. */
export interface PairedEffectSizes {
  /** Number of differences. */
  n: number
  /** mean(d). */
  meanDiff: number
  /** Sample standard deviation of d (NaN when n < 2). */
  sdDiff: number
  /** Cohen's d_z = meanDiff / sdDiff. */
  cohensDz: number
  /** Matched-pairs rank-biserial correlation (R⁺ − R⁻) / Σ ranks. */
  rankBiserial: number
}

function checkFinite(d: ArrayLike<number>, where: string): void {
  for (let i = 0; i < d.length; i++) {
    if (!Number.isFinite(d[i])) {
      throw new MetricsError(
        MetricsErrorCode.ArgumentInvalid,
        `${where}: difference #${i} is ${d[i]}; expected a finite number`,
        { index: i },
      )
    }
  }
}

/** Matched-pairs rank-biserial correlation of the paired differences `d` (Kerby 2014). */
export function rankBiserial(d: ArrayLike<number>, options: Partial<RankBiserialOptions> = {}): number {
  checkFinite(d, 'rankBiserial')
  const zeroMethod = options.zeroMethod ?? 'wilcox'
  const kept = zeroMethod === 'wilcox' ? Array.from(d).filter((v) => v !== 0) : Array.from(d)
  if (kept.length === 0) return Number.NaN
  const { ranks } = averageRanks(kept.map(Math.abs))
  const plus: number[] = []
  const minus: number[] = []
  for (let i = 0; i < kept.length; i++) {
    const v = kept[i] as number
    if (v > 0) plus.push(ranks[i] as number)
    else if (v < 0) minus.push(ranks[i] as number)
  }
  return (numpyPairwiseSum(plus) - numpyPairwiseSum(minus)) / numpyPairwiseSum(ranks)
}

/** Cohen's d_z of the paired differences `d`: mean / sample sd. */
export function cohensDz(d: ArrayLike<number>): number {
  return meanAndSd(d, 'cohensDz').dz
}

function meanAndSd(d: ArrayLike<number>, where: string): { mean: number; sd: number; dz: number } {
  checkFinite(d, where)
  const n = d.length
  const mean = n > 0 ? numpyPairwiseSum(d) / n : Number.NaN
  if (n < 2) return { mean, sd: Number.NaN, dz: Number.NaN }
  const sq = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    const u = (d[i] as number) - mean
    sq[i] = u * u
  }
  const sd = Math.sqrt(numpyPairwiseSum(sq) / (n - 1))
  return { mean, sd, dz: mean / sd }
}

/** Cohen's d_z, the rank-biserial correlation and the mean / sd behind them, in one pass. */
export function pairedEffectSizes(d: ArrayLike<number>, options: Partial<RankBiserialOptions> = {}): PairedEffectSizes {
  const { mean, sd, dz } = meanAndSd(d, 'pairedEffectSizes')
  return { n: d.length, meanDiff: mean, sdDiff: sd, cohensDz: dz, rankBiserial: rankBiserial(d, options) }
}
