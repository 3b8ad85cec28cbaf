/**
 * Seeded bootstrap confidence intervals (Efron & Tibshirani 1993, ch. 13–14).
 *
 * Resampling reproduces the original (core.md §13.9, §14): Python `random.Random(seed)` and n
 * indices drawn with `randbelow(n)` per resample (the stream of `random.choice`), so
 * `bootstrapCiMean([1..5]×10, {nResamples: 500, seed: 0})` is (2.6, 3.4) exactly as in Python.
 * The original's percentile indices are kept: with sorted replicates m and R resamples,
 * lo = m[⌊((1−ci)/2)·R⌋], hi = m[⌊(1−(1−ci)/2)·R⌋ − 1].
 *
 * Goldens (scripts/golden/metrics-bootstrap.py, Debian's CPython 3.11): percentile CIs of the mean
 * and paired CIs of dᵢ = yᵢ − xᵢ (n = 1..254, R = 1..1000, ci 0.5..0.99, seeds up to 2⁴⁰ and
 * negative) agree bit for bit. The generator is CPython's `random.Random` (MT19937 with
 * `init_by_array`), not numpy's `RandomState`, whose seeding and index draws differ. The mean is a
 * plain left-to-right sum, as CPython ≤ 3.11's `sum`; CPython 3.12+ sums floats with compensation,
 * so an original run under 3.12+ can differ in the last bits of a bound.
 *
 * BCa (bias-corrected and accelerated): z₀ = Φ⁻¹(#{θ*_b < θ̂}/R + ½·#{θ*_b = θ̂}/R), acceleration
 * a = Σ(θ̄₍.₎ − θ₍ᵢ₎)³ / (6·[Σ(θ̄₍.₎ − θ₍ᵢ₎)²]^{3/2}) from the jackknife; the interval ends are
 * the replicates at levels αⱼ = Φ(z₀ + (z₀ + z_αⱼ)/(1 − a(z₀ + z_αⱼ))), indexed as above.
 */
import { createRng } from '@plora/common'
import { MetricsError, MetricsErrorCode } from './errors.js'
import { normalCdf, normalQuantile } from './normal.js'

/** A statistic of one sample (default: the mean). */
export type SampleStatistic = (sample: Float64Array) => number

/** Options of the bootstrap functions. */
export interface BootstrapOptions {
  /** Number of bootstrap resamples R (default 1000). */
  nResamples: number
  /** Coverage in (0, 1) (default 0.95). */
  ci: number
  /** Seed of the Python-compatible RNG (default 42, the original's). */
  seed: number
  /** "percentile" (the original's) or "bca". */
  method: 'percentile' | 'bca'
  /** The statistic (default: mean). */
  statistic: SampleStatistic
}

/** The mean, summed left to right like Python's `sum(x) / len(x)`. */
export function mean(x: ArrayLike<number>): number {
  let s = 0
  for (let i = 0; i < x.length; i++) s += x[i] as number
  return s / x.length
}

/** Defaults of the bootstrap functions (the original's). */
export const DEFAULT_BOOTSTRAP_OPTIONS: BootstrapOptions = Object.freeze({
  nResamples: 1000,
  ci: 0.95,
  seed: 42,
  method: 'percentile',
  statistic: mean,
})

/** A bootstrap confidence interval. */
export interface BootstrapCi {
  lo: number
  hi: number
  /** The statistic on the full sample. */
  estimate: number
  method: 'percentile' | 'bca'
}

function validate(o: BootstrapOptions, where: string): void {
  if (!Number.isInteger(o.nResamples) || o.nResamples < 1) {
    throw new MetricsError(
      MetricsErrorCode.ArgumentInvalid,
      `${where}: nResamples must be a positive integer, got ${o.nResamples}`,
      { nResamples: o.nResamples },
    )
  }
  if (!(o.ci > 0 && o.ci < 1)) {
    throw new MetricsError(MetricsErrorCode.ArgumentInvalid, `${where}: ci must be in (0, 1), got ${o.ci}`, {
      ci: o.ci,
    })
  }
}

// Percentile index of the original: ⌊q·R⌋ for the lower end, ⌊q·R⌋ − 1 for the upper end, clamped.
function pick(sorted: Float64Array, q: number, upper: boolean): number {
  const R = sorted.length
  let idx = Math.floor(q * R) - (upper ? 1 : 0)
  if (idx < 0) idx = 0
  if (idx > R - 1) idx = R - 1
  return sorted[idx] as number
}

/**
 * Bootstrap CI of a statistic of one sample. Empty input → (0, 0) as in the original's
 * `bootstrap_ci_mean` (core.md §14).
 */
export function bootstrapCi(values: ArrayLike<number>, options: Partial<BootstrapOptions> = {}): BootstrapCi {
  const o = { ...DEFAULT_BOOTSTRAP_OPTIONS, ...options }
  validate(o, 'bootstrapCi')
  const n = values.length
  if (n === 0) return { lo: 0, hi: 0, estimate: 0, method: o.method }
  const data = Float64Array.from(values)
  const estimate = o.statistic(data)
  const rng = createRng(o.seed)
  const reps = new Float64Array(o.nResamples)
  const buf = new Float64Array(n)
  for (let b = 0; b < o.nResamples; b++) {
    for (let i = 0; i < n; i++) buf[i] = data[rng.randbelow(n)] as number
    reps[b] = o.statistic(buf)
  }
  reps.sort()
  const tail = (1 - o.ci) / 2
  if (o.method === 'percentile')
    return { lo: pick(reps, tail, false), hi: pick(reps, 1 - tail, true), estimate, method: o.method }

  // BCa: bias correction from the share of replicates below the estimate (ties count half).
  let below = 0
  let equal = 0
  for (const r of reps) {
    if (r < estimate) below++
    else if (r === estimate) equal++
  }
  const share = (below + 0.5 * equal) / o.nResamples
  const z0 = normalQuantile(Math.min(1 - 1e-12, Math.max(1e-12, share)))
  // Acceleration from the jackknife (leave-one-out) values of the statistic.
  const jack = new Float64Array(n)
  const loo = new Float64Array(Math.max(0, n - 1))
  for (let i = 0; i < n; i++) {
    let w = 0
    for (let j = 0; j < n; j++) if (j !== i) loo[w++] = data[j] as number
    jack[i] = n > 1 ? o.statistic(loo) : estimate
  }
  const jm = mean(jack)
  let num = 0
  let den = 0
  for (const v of jack) {
    const u = jm - v
    num += u * u * u
    den += u * u
  }
  const a = den > 0 ? num / (6 * den ** 1.5) : 0
  const adjust = (alpha: number): number => {
    const z = normalQuantile(alpha)
    return normalCdf(z0 + (z0 + z) / (1 - a * (z0 + z)))
  }
  return { lo: pick(reps, adjust(tail), false), hi: pick(reps, adjust(1 - tail), true), estimate, method: 'bca' }
}

/** The original's `bootstrap_ci_mean(values, n_resamples=1000, ci=0.95, seed=42)`: percentile CI of the mean. */
export function bootstrapCiMean(
  values: ArrayLike<number>,
  options: Partial<Omit<BootstrapOptions, 'statistic'>> = {},
): BootstrapCi {
  return bootstrapCi(values, { ...options, statistic: mean })
}

/**
 * Paired bootstrap CI of the statistic of dᵢ = yᵢ − xᵢ (core.md §13.9). Different lengths or
 * empty input → `METRICS_LENGTH_MISMATCH` / `METRICS_ARGUMENT_INVALID`.
 */
export function pairedBootstrapCi(
  xs: ArrayLike<number>,
  ys: ArrayLike<number>,
  options: Partial<BootstrapOptions> = {},
): BootstrapCi {
  if (xs.length !== ys.length) {
    throw new MetricsError(
      MetricsErrorCode.LengthMismatch,
      `pairedBootstrapCi: xs has ${xs.length} values but ys has ${ys.length}; expected equal lengths`,
      { xs: xs.length, ys: ys.length },
    )
  }
  if (xs.length === 0) {
    throw new MetricsError(
      MetricsErrorCode.ArgumentInvalid,
      'pairedBootstrapCi: empty input; expected at least one pair',
    )
  }
  const d = new Float64Array(xs.length)
  for (let i = 0; i < d.length; i++) d[i] = (ys[i] as number) - (xs[i] as number)
  return bootstrapCi(d, options)
}
