import { createRng } from '@plora/common'

/** Park–Miller minimal standard generator (swarm.md Appendix A inputs). */
export function parkMiller(seed: number, n: number): number[] {
  let s = seed
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    s = (16807 * s) % 2147483647
    out.push(s / 2147483647)
  }
  return out
}

/** n samples of a bivariate Gaussian pair with correlation rho, drawn from `seed`. */
export function gaussianPair(rho: number, n: number, seed: number): { x: Float64Array; y: Float64Array } {
  const rng = createRng(seed)
  const x = new Float64Array(n)
  const y = new Float64Array(n)
  const s = Math.sqrt(1 - rho * rho)
  for (let i = 0; i < n; i++) {
    const a = rng.gauss(0, 1)
    x[i] = a
    y[i] = rho * a + s * rng.gauss(0, 1)
  }
  return { x, y }
}

/** Brute-force L∞ distance between rows i and j of row-major data with `cols` columns. */
export function linf(data: ArrayLike<number>, cols: number, i: number, j: number): number {
  let m = 0
  for (let a = 0; a < cols; a++)
    m = Math.max(m, Math.abs((data[i * cols + a] as number) - (data[j * cols + a] as number)))
  return m
}
