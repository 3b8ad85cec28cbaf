/**
 * Plug-in entropy over small dense alphabets for the inner loops of surrogate and bootstrap tests
 * (thousands of evaluations on the same rows): with counts c over N samples,
 *   H = ln N − (1/N)·Σ_cells c·ln c,
 * and adding one sample to a cell holding c adds Δ(c) = (c+1)·ln(c+1) − c·ln c, read from a
 * table. One pass over the keys counts, a second pass resets the touched cells: O(N) per
 * evaluation, no allocation.
 */

/** Largest dense alphabet (cells) the fast path allocates. */
export const DENSE_CELL_LIMIT = 1 << 22

/** Reusable scratch for {@link denseEntropy}: a zeroed count array and the Δ table. */
export class DenseScratch {
  readonly counts: Int32Array
  readonly delta: Float64Array

  constructor(cells: number, maxSamples: number) {
    this.counts = new Int32Array(cells)
    this.delta = new Float64Array(maxSamples + 1)
    for (let c = 0; c <= maxSamples; c++) this.delta[c] = (c + 1) * Math.log(c + 1) - (c > 0 ? c * Math.log(c) : 0)
  }
}

/**
 * Plug-in entropy (nats) of the first `n` keys (cells < scratch size), Miller–Madow corrected
 * on request. Leaves the scratch zeroed.
 */
export function denseEntropy(keys: Int32Array, n: number, s: DenseScratch, millerMadow: boolean): number {
  const counts = s.counts
  const delta = s.delta
  let sum = 0
  let occupied = 0
  for (let i = 0; i < n; i++) {
    const k = keys[i] as number
    const c = counts[k] as number
    if (c === 0) occupied++
    sum += delta[c] as number
    counts[k] = c + 1
  }
  for (let i = 0; i < n; i++) counts[keys[i] as number] = 0
  const h = Math.log(n) - sum / n
  return millerMadow ? h + (occupied - 1) / (2 * n) : h
}
