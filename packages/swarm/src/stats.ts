/**
 * The original's `bootstrap_ci_mean` (spec swarm.md §11.4): percentile bootstrap of the mean with
 * CPython's `random.Random(seed)`; R resamples of size n drawn with replacement, sorted means,
 * lo = means[⌊((1−ci)/2)·R⌋], hi = means[⌊(1−(1−ci)/2)·R⌋ − 1]. (0, 0) for an empty input.
 */
import { PythonRandom } from '@plora/common'

/** Options of {@link bootstrapCiMean}. */
export interface BootstrapOptions {
  nResamples: number
  ci: number
  seed: number
}

/** Percentile bootstrap CI of the mean. */
export function bootstrapCiMean(values: readonly number[], options: Partial<BootstrapOptions> = {}): [number, number] {
  const o: BootstrapOptions = { nResamples: 1000, ci: 0.95, seed: 42, ...options }
  const n = values.length
  if (n === 0) return [0, 0]
  const rng = new PythonRandom(o.seed)
  const means: number[] = []
  for (let r = 0; r < o.nResamples; r++) {
    let s = 0
    for (let i = 0; i < n; i++) s += values[rng.randbelow(n)]!
    means.push(s / n)
  }
  means.sort((a, b) => a - b)
  const lo = means[Math.floor(((1 - o.ci) / 2) * o.nResamples)]!
  const hi = means[Math.floor((1 - (1 - o.ci) / 2) * o.nResamples) - 1]!
  return [lo, hi]
}
