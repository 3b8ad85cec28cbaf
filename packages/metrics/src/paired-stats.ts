/**
 * The value-add experiment's paired statistic (spec pipelines.md §9.5, `make_stat(baseline, after)`),
 * composed from the package's tests, with the concerns of §9.5 and §20 item 21 addressed:
 *
 * - `delta_mean`, `wilcoxon_p` (two-sided signed-rank, `zero_method="pratt"`, no continuity
 *   correction, scipy 1.10's automatic exact/normal switch) and `ci` (paired percentile bootstrap,
 *   the original's `random.Random(42)`, 1000 resamples, indices 25 and 974) as the original;
 * - plus the exact sign test, counts of improved / worse / unchanged examples, two effect sizes
 *   (matched-pairs rank-biserial correlation with Pratt ranks, and Cohen's d_z = mean / sd), and
 *   `p_at_floor`: true when every non-zero delta has the same sign, so the p-value is the smallest
 *   the test can give for this n (the stored 2.049e-43 at n=254, …) and carries no information
 *   beyond "all examples moved the same way".
 */
import { pairedBootstrapCi } from './bootstrap.js'
import { cohensDz, rankBiserial } from './effect-size.js'
import { MetricsError, MetricsErrorCode } from './errors.js'
import { signTest } from './sign-test.js'
import { wilcoxonSignedRank } from './wilcoxon.js'

/** One condition's paired statistic against its baseline (JSON field names of the record). */
export interface PairedStat {
  /** mean(after − baseline); negative = the condition lowers the NLL (helps). */
  delta_mean: number
  /** Two-sided Wilcoxon signed-rank p (Pratt zeros). */
  wilcoxon_p: number
  /** 95 % paired percentile bootstrap CI of `delta_mean`. */
  ci: [number, number]
  /** Paired examples. */
  n: number
  /** How `wilcoxon_p` was computed: `exact`, `approx` (normal) or `degenerate` (all deltas zero). */
  wilcoxon_method: string
  /** Two-sided exact sign test p (zeros dropped). */
  sign_test_p: number
  /** Examples whose NLL went down / up / stayed equal. */
  n_improved: number
  n_worse: number
  n_zero: number
  /** Matched-pairs rank-biserial correlation (R⁺ − R⁻)/(R⁺ + R⁻) in [−1, 1]; −1 = every example improved. */
  rank_biserial: number
  /** Cohen's d_z = mean / sd of the deltas (0 when sd = 0). */
  cohens_dz: number
  /** True when every non-zero delta has the same sign: p is the test's floor for this n. */
  p_at_floor: boolean
}

/** Options of {@link pairedStat}. */
export interface PairedStatOptions {
  /** Bootstrap resamples (default 1000, the original's). */
  nResamples: number
  /** Bootstrap seed (default 42, the original's). */
  seed: number
}

/** Defaults of {@link PairedStatOptions} (the original's recipe). */
export const DEFAULT_PAIRED_STAT_OPTIONS: PairedStatOptions = Object.freeze({ nResamples: 1000, seed: 42 })

/**
 * The paired statistic of `after` against `baseline` (aligned by example index).
 *
 * @throws MetricsError `METRICS_LENGTH_MISMATCH` for different lengths, `METRICS_ARGUMENT_INVALID`
 *   for empty input or a non-finite value.
 * @example
 * ```ts
 * const s = pairedStat([2.1, 2.0, 2.3], [1.9, 1.7, 2.2])
 * s.delta_mean // ≈ −0.2
 * ```
 */
export function pairedStat(
  baseline: ArrayLike<number>,
  after: ArrayLike<number>,
  options: Partial<PairedStatOptions> = {},
): PairedStat {
  const o = { ...DEFAULT_PAIRED_STAT_OPTIONS, ...options }
  if (baseline.length !== after.length) {
    throw new MetricsError(
      MetricsErrorCode.LengthMismatch,
      `pairedStat: baseline has ${baseline.length} values but after has ${after.length}; expected equal lengths`,
      { baseline: baseline.length, after: after.length },
    )
  }
  const n = baseline.length
  if (n === 0) {
    throw new MetricsError(MetricsErrorCode.ArgumentInvalid, 'pairedStat: empty input; expected at least one pair')
  }
  const d = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    const v = (after[i] as number) - (baseline[i] as number)
    if (!Number.isFinite(v)) {
      throw new MetricsError(
        MetricsErrorCode.ArgumentInvalid,
        `pairedStat: pair #${i} gives a non-finite difference (${after[i]} − ${baseline[i]})`,
        { index: i },
      )
    }
    d[i] = v
  }
  let sum = 0
  for (let i = 0; i < n; i++) sum += d[i] as number
  const deltaMean = sum / n
  const w = wilcoxonSignedRank(d, { zeroMethod: 'pratt', correction: false, alternative: 'two-sided', method: 'auto' })
  const ci = pairedBootstrapCi(baseline, after, { nResamples: o.nResamples, seed: o.seed, ci: 0.95 })
  const sign = signTest(d)
  const nZero = n - sign.nPositive - sign.nNegative
  // Effect sizes from effect-size.ts; a record holds finite numbers, so d_z of constant deltas
  // (sd = 0, where numpy gives ±inf or nan) is reported as 0.
  const dz = cohensDz(d)
  return {
    delta_mean: deltaMean,
    wilcoxon_p: w.pValue,
    ci: [ci.lo, ci.hi],
    n,
    wilcoxon_method: w.method,
    sign_test_p: sign.pValue,
    n_improved: sign.nNegative,
    n_worse: sign.nPositive,
    n_zero: nZero,
    rank_biserial: rankBiserial(d, { zeroMethod: 'pratt' }),
    cohens_dz: Number.isFinite(dz) ? dz : 0,
    p_at_floor: w.atFloor,
  }
}
