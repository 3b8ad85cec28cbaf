/**
 * Plug-in (maximum-likelihood) entropies and mutual information of discrete data, in nats, with
 * the optional Miller–Madow bias correction (Miller 1955): Ĥ_MM = Ĥ + (m − 1)/(2N), m = number
 * of occupied cells. MI = H(X) + H(Y) − H(X, Y), so the MM correction of MI is
 * (m_x + m_y − m_xy − 1)/(2N). Multi-column samples are treated as tuples. This is the
 * estimator the spec recommends for count series such as agents' domain counts (swarm.md §12.3 REC).
 */
import { ItError, ItErrorCode } from './errors.js'
import { DENSE_CELL_LIMIT, DenseScratch, denseEntropy } from './fast-count.js'
import { checkSameRows, type SampleInput, type SampleMatrix, toMatrix } from './matrix.js'

/** Compacts each row of `m` to a symbol id 0..m−1 (ids in order of first appearance). */
export function symbolIds(m: SampleMatrix): { ids: Int32Array; count: number } {
  const ids = new Int32Array(m.rows)
  const seen = new Map<string | number, number>()
  for (let i = 0; i < m.rows; i++) {
    let key: string | number
    if (m.cols === 1) key = m.data[i] as number
    else {
      const parts: number[] = []
      for (let j = 0; j < m.cols; j++) parts.push(m.data[i * m.cols + j] as number)
      key = parts.join(',')
    }
    let id = seen.get(key)
    if (id === undefined) {
      id = seen.size
      seen.set(key, id)
    }
    ids[i] = id
  }
  return { ids, count: seen.size }
}

/** Combines two id columns into compact joint ids (id pairs → 0..m−1). */
export function combineIds(a: Int32Array, b: Int32Array, bCount: number): { ids: Int32Array; count: number } {
  const ids = new Int32Array(a.length)
  const seen = new Map<number, number>()
  for (let i = 0; i < a.length; i++) {
    const key = (a[i] as number) * bCount + (b[i] as number)
    let id = seen.get(key)
    if (id === undefined) {
      id = seen.size
      seen.set(key, id)
    }
    ids[i] = id
  }
  return { ids, count: seen.size }
}

/** Plug-in entropy (nats) of compact symbol ids with `count` symbols, plus the number of occupied cells. */
export function entropyOfIds(
  ids: ArrayLike<number>,
  count: number,
  scratch?: Float64Array,
): { h: number; occupied: number } {
  const n = ids.length
  const c = scratch && scratch.length >= count ? scratch.fill(0, 0, count) : new Float64Array(count)
  for (let i = 0; i < n; i++) c[ids[i] as number] = (c[ids[i] as number] as number) + 1
  let h = 0
  let occupied = 0
  for (let s = 0; s < count; s++) {
    const v = c[s] as number
    if (v > 0) {
      occupied++
      h -= (v / n) * Math.log(v / n)
    }
  }
  return { h, occupied }
}

/** Options of {@link discreteMutualInformation} and {@link discreteEntropy}. */
export interface DiscreteOptions {
  /** Apply the Miller–Madow correction (default true). */
  millerMadow: boolean
}

/** Plug-in entropy in nats of discrete samples (rows are symbols). */
export function discreteEntropy(x: SampleInput, options: Partial<DiscreteOptions> = {}): number {
  const mm = options.millerMadow ?? true
  const m = toMatrix(x, 'X')
  if (m.rows === 0) return 0
  const { ids, count } = symbolIds(m)
  const { h, occupied } = entropyOfIds(ids, count)
  return mm ? h + (occupied - 1) / (2 * m.rows) : h
}

/** Discrete mutual information in nats, plug-in with optional Miller–Madow correction. */
export function discreteMutualInformation(
  x: SampleInput,
  y: SampleInput,
  options: Partial<DiscreteOptions> = {},
): number {
  const mm = options.millerMadow ?? true
  const mx = toMatrix(x, 'X')
  const my = toMatrix(y, 'Y')
  checkSameRows(mx, my, 'discreteMutualInformation')
  if (mx.rows === 0) return 0
  const sx = symbolIds(mx)
  const sy = symbolIds(my)
  return discreteMiFromIds(sx.ids, sx.count, sy.ids, sy.count, mm)
}

/** Discrete MI (nats) of two compact id columns. */
export function discreteMiFromIds(
  xIds: Int32Array,
  xCount: number,
  yIds: Int32Array,
  yCount: number,
  millerMadow: boolean,
): number {
  const n = xIds.length
  if (n === 0) return 0
  if (yIds.length !== n) {
    throw new ItError(ItErrorCode.LengthMismatch, `discrete MI: ${n} x symbols but ${yIds.length} y symbols`)
  }
  const joint = combineIds(xIds, yIds, yCount)
  const hx = entropyOfIds(xIds, xCount)
  const hy = entropyOfIds(yIds, yCount)
  const hxy = entropyOfIds(joint.ids, joint.count)
  let mi = hx.h + hy.h - hxy.h
  if (millerMadow) mi += (hx.occupied + hy.occupied - hxy.occupied - 1) / (2 * n)
  // Rounding of the three entropies leaves |mi| ~ 1e-16 for independent data; report it as 0.
  return Math.abs(mi) < 1e-12 ? 0 : mi
}

/** A fast discrete-MI evaluator over fixed symbol columns: `(yIds?, rowIndex?) → MI`. */
export type DiscreteMiEvaluator = (yIds?: Int32Array, rowIndex?: ArrayLike<number>) => number

/**
 * Builds a {@link DiscreteMiEvaluator} (same estimator as {@link discreteMiFromIds}, computed over
 * dense counters) for permutation and bootstrap loops over the same rows.
 */
export function createDiscreteMiEvaluator(
  xIds: Int32Array,
  xCount: number,
  yIdsBase: Int32Array,
  yCount: number,
  millerMadow: boolean,
): DiscreteMiEvaluator {
  const n = xIds.length
  if (xCount * yCount > DENSE_CELL_LIMIT) {
    return (yIds = yIdsBase, rowIndex) => {
      if (!rowIndex) return discreteMiFromIds(xIds, xCount, yIds, yCount, millerMadow)
      const xs = Int32Array.from(rowIndex, (r) => xIds[r] as number)
      const ys = Int32Array.from(rowIndex, (r) => yIds[r] as number)
      return discreteMiFromIds(xs, xCount, ys, yCount, millerMadow)
    }
  }
  const sx = new DenseScratch(xCount, n)
  const sy = new DenseScratch(yCount, n)
  const sxy = new DenseScratch(xCount * yCount, n)
  const hxFull = denseEntropy(xIds, n, sx, millerMadow)
  const hyFull = denseEntropy(yIdsBase, n, sy, millerMadow)
  const kx = new Int32Array(n)
  const ky = new Int32Array(n)
  const kxy = new Int32Array(n)
  return (yIds = yIdsBase, rowIndex) => {
    let hx = hxFull
    let hy = hyFull
    const m = rowIndex ? rowIndex.length : n
    if (rowIndex) {
      for (let i = 0; i < m; i++) {
        const r = rowIndex[i] as number
        kx[i] = xIds[r] as number
        ky[i] = yIds[r] as number
        kxy[i] = (kx[i] as number) * yCount + (ky[i] as number)
      }
      hx = denseEntropy(kx, m, sx, millerMadow)
      hy = denseEntropy(ky, m, sy, millerMadow)
    } else {
      for (let i = 0; i < n; i++) kxy[i] = (xIds[i] as number) * yCount + (yIds[i] as number)
    }
    // The Miller–Madow terms (m_x−1)+(m_y−1)−(m_xy−1) are inside the three corrected entropies.
    const mi = hx + hy - denseEntropy(kxy, m, sxy, millerMadow)
    return Math.abs(mi) < 1e-12 ? 0 : mi
  }
}
