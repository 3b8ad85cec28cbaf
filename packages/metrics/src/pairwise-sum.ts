/**
 * numpy's float64 summation (`np.sum` / `add.reduce` on a contiguous array): pairwise summation
 * with eight accumulators in blocks of at most 128 values (numpy/core/src/umath/loops_utils.h.src,
 * `pairwise_sum`). Used where results are compared with scipy/numpy goldens, so that they agree in
 * the last bits instead of by a tolerance; its error also grows like O(log n), not O(n).
 */

/** Σ a[start .. start + n) in numpy's order. */
export function numpyPairwiseSum(a: ArrayLike<number>, start = 0, n = a.length - start): number {
  if (n < 8) {
    let s = 0
    for (let i = 0; i < n; i++) s += a[start + i] as number
    return s
  }
  if (n <= 128) {
    let r0 = a[start] as number
    let r1 = a[start + 1] as number
    let r2 = a[start + 2] as number
    let r3 = a[start + 3] as number
    let r4 = a[start + 4] as number
    let r5 = a[start + 5] as number
    let r6 = a[start + 6] as number
    let r7 = a[start + 7] as number
    let i = 8
    for (; i < n - (n % 8); i += 8) {
      const k = start + i
      r0 += a[k] as number
      r1 += a[k + 1] as number
      r2 += a[k + 2] as number
      r3 += a[k + 3] as number
      r4 += a[k + 4] as number
      r5 += a[k + 5] as number
      r6 += a[k + 6] as number
      r7 += a[k + 7] as number
    }
    let s = r0 + r1 + (r2 + r3) + (r4 + r5 + (r6 + r7))
    for (; i < n; i++) s += a[start + i] as number
    return s
  }
  let n2 = Math.floor(n / 2)
  n2 -= n2 % 8
  return numpyPairwiseSum(a, start, n2) + numpyPairwiseSum(a, start + n2, n - n2)
}
