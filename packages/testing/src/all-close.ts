/**
 * Element-wise tolerance checks, `|a − b| ≤ atol + rtol·|b|` (NumPy `allclose` semantics).
 */

/** Tolerances of {@link allClose}. */
export interface AllCloseOptions {
  rtol: number
  atol: number
}

/** The first index violating the tolerance, or −1 when all elements are close. */
export function allClose(a: ArrayLike<number>, b: ArrayLike<number>, options: Partial<AllCloseOptions> = {}): number {
  const { rtol, atol } = { rtol: 1e-5, atol: 1e-8, ...options }
  if (a.length !== b.length) return 0
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!
    const y = b[i]!
    if (!(Math.abs(x - y) <= atol + rtol * Math.abs(y))) return i
  }
  return -1
}

/** Throws an Error naming the first differing index and values when `a` and `b` are not close. */
export function expectAllClose(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  options: Partial<AllCloseOptions> & { message?: string } = {},
): void {
  if (a.length !== b.length) throw new Error(`${options.message ?? 'arrays'}: length ${a.length} != ${b.length}`)
  const i = allClose(a, b, options)
  if (i >= 0) {
    throw new Error(
      `${options.message ?? 'arrays'} differ at index ${i}: ${a[i]} vs ${b[i]} (rtol ${options.rtol ?? 1e-5}, atol ${options.atol ?? 1e-8})`,
    )
  }
}
