/**
 * Digamma ψ from `@stdlib/math-base-special-digamma` (a well-kept Cephes port, accurate to a few
 * ulp), with a cache for the integer arguments the k-NN estimators need (ψ(n) for n ≤ N + 1).
 */
import stdlibDigamma from '@stdlib/math-base-special-digamma'

/** ψ(x). */
export function digamma(x: number): number {
  return stdlibDigamma(x)
}

let table = new Float64Array(0)

/** ψ(n) for integers n ≥ 1, cached (the table grows to the largest n asked). */
export function digammaInt(n: number): number {
  if (n < table.length) return table[n] as number
  const next = new Float64Array(Math.max(n + 1, table.length * 2, 64))
  next.set(table)
  for (let i = Math.max(1, table.length); i < next.length; i++) next[i] = stdlibDigamma(i)
  next[0] = Number.NEGATIVE_INFINITY
  table = next
  return table[n] as number
}
