/**
 * k-nearest-neighbour mutual information in nats.
 *
 * KSG (Kraskov, Stögbauer & Grassberger 2004, Phys. Rev. E 69, 066138), max-norm in the joint
 * and marginal spaces, ε_i = distance from point i to its k-th nearest *other* point in Z = (X, Y):
 *   algorithm 1 (eq. 8):  Î = ψ(k) + ψ(N) − ⟨ψ(n_x + 1) + ψ(n_y + 1)⟩,
 *                          n_x(i) = #{j ≠ i : ‖x_j − x_i‖ < ε_i} (strict), n_y likewise;
 *   algorithm 2 (eq. 9):  Î = ψ(k) − 1/k + ψ(N) − ⟨ψ(n_x) + ψ(n_y)⟩,
 *                          ε_x(i) = max over the k neighbours of ‖x_j − x_i‖,
 *                          n_x(i) = #{j ≠ i : ‖x_j − x_i‖ ≤ ε_x(i)}.
 * Algorithm 1 with k = 5 is the original's `mi_knn` (swarm.md §11.1); the result is not clamped
 * and can be negative. N ≤ k gives 0.
 *
 * Mixed discrete–continuous data (Gao, Kannan, Oh & Viswanath 2017, "Estimating mutual
 * information for discrete-continuous mixtures", NeurIPS): with ρ_i the k-th neighbour distance,
 *   ρ_i > 0:  k̃ = k, n_x = #{j : ‖x_j − x_i‖ < ρ_i} (self included);
 *   ρ_i = 0:  k̃ = #{j : z_j = z_i}, n_x = #{j : x_j = x_i} (self included);
 *   Î = ⟨ψ(k̃_i) + ln N − ψ(n_x,i) − ψ(n_y,i)⟩.
 * This needs no jitter: ties are part of the model.
 *
 * Ties and jitter: exact ties change the strict counts. By default a seeded Gaussian jitter of
 * 1e-10 × the column's range (1e-10 for a constant column) is added, drawn from
 * `createRng(seed)` for X's values then Y's, row by row (the spec's REC, swarm.md §11.1; the
 * original used absolute 1e-10 from numpy's stream, which cannot be reproduced). On tie-rich
 * data (counts) the KSG result then reflects the jitter: use the discrete or mixed estimator
 * there. `jitter: 0` disables it; the neighbour search itself is deterministic (ties broken by index).
 */
import { createRng } from '@plora/common'
import { digammaInt } from './digamma.js'
import { ItError, ItErrorCode } from './errors.js'
import { ChebyshevKdTree, SortedCounter } from './kd-tree.js'
import { checkSameRows, hstack, type SampleInput, type SampleMatrix, toMatrix } from './matrix.js'

/** Options of {@link ksgMutualInformation}. */
export interface KsgOptions {
  /** Number of neighbours (5, the original's default). */
  k: number
  /** KSG algorithm 1 (the original's) or 2. */
  algorithm: 1 | 2
  /** Relative jitter scale (1e-10 × column range); 0 disables jitter. */
  jitter: number
  /** Seed of the jitter stream (42, like the original's fixed `default_rng(42)`). */
  seed: number
}

/** Defaults of {@link ksgMutualInformation}. */
export const DEFAULT_KSG_OPTIONS: KsgOptions = Object.freeze({ k: 5, algorithm: 1, jitter: 1e-10, seed: 42 })

function checkK(k: number, where: string): void {
  if (!Number.isInteger(k) || k < 1) {
    throw new ItError(ItErrorCode.ArgumentInvalid, `${where}: k must be a positive integer, got ${k}`, { k })
  }
}

/** Adds the seeded relative jitter to a copy of `m`, drawing from `rng`. */
function jittered(m: SampleMatrix, scale: number, rng: ReturnType<typeof createRng>): SampleMatrix {
  const data = Float64Array.from(m.data)
  const widths: number[] = []
  for (let j = 0; j < m.cols; j++) {
    let lo = Number.POSITIVE_INFINITY
    let hi = Number.NEGATIVE_INFINITY
    for (let i = 0; i < m.rows; i++) {
      const v = m.data[i * m.cols + j] as number
      if (v < lo) lo = v
      if (v > hi) hi = v
    }
    widths.push(hi > lo ? hi - lo : 1)
  }
  for (let i = 0; i < data.length; i++)
    data[i] = (data[i] as number) + scale * (widths[i % m.cols] as number) * rng.gauss(0, 1)
  return { data, rows: m.rows, cols: m.cols }
}

/** Marginal neighbour counter: sorted binary search in 1-D, a k-d tree otherwise. */
class MarginalCounter {
  readonly #m: SampleMatrix
  readonly #sorted: SortedCounter | null
  readonly #tree: ChebyshevKdTree | null

  constructor(m: SampleMatrix) {
    this.#m = m
    this.#sorted = m.cols === 1 ? new SortedCounter(m.data) : null
    this.#tree = m.cols === 1 ? null : new ChebyshevKdTree(m.data, m.rows, m.cols)
  }

  /** #{j : ‖m_j − m_i‖ < r} (or ≤ r), including i itself. */
  count(i: number, r: number, strict: boolean): number {
    if (this.#sorted) return this.#sorted.count(this.#m.data[i] as number, r, strict)
    return (this.#tree as ChebyshevKdTree).countWithin(this.#m.data, i * this.#m.cols, r, strict)
  }

  /** max over the listed neighbours of ‖m_j − m_i‖. */
  maxDistance(i: number, neighbours: Int32Array, k: number): number {
    const c = this.#m.cols
    const d = this.#m.data
    let best = 0
    for (let t = 0; t < k; t++) {
      const j = neighbours[t] as number
      for (let a = 0; a < c; a++) {
        const g = Math.abs((d[j * c + a] as number) - (d[i * c + a] as number))
        if (g > best) best = g
      }
    }
    return best
  }
}

/**
 * KSG mutual information Î(X; Y) in nats (algorithm 1 by default).
 *
 * @example
 * ```ts
 * const mi = ksgMutualInformation(xs, ys, { k: 5 }) // ≈ −½·ln(1 − ρ²) for a Gaussian pair
 * ```
 */
export function ksgMutualInformation(x: SampleInput, y: SampleInput, options: Partial<KsgOptions> = {}): number {
  const o = { ...DEFAULT_KSG_OPTIONS, ...options }
  checkK(o.k, 'ksgMutualInformation')
  if (o.algorithm !== 1 && o.algorithm !== 2) {
    throw new ItError(
      ItErrorCode.ArgumentInvalid,
      `ksgMutualInformation: algorithm must be 1 or 2, got ${String(o.algorithm)}`,
    )
  }
  let mx = toMatrix(x, 'X')
  let my = toMatrix(y, 'Y')
  checkSameRows(mx, my, 'ksgMutualInformation')
  const n = mx.rows
  const k = o.k
  if (n <= k) return 0
  if (o.jitter > 0) {
    const rng = createRng(o.seed)
    mx = jittered(mx, o.jitter, rng)
    my = jittered(my, o.jitter, rng)
  }
  const z = hstack(mx, my)
  const tree = new ChebyshevKdTree(z.data, n, z.cols)
  const cx = new MarginalCounter(mx)
  const cy = new MarginalCounter(my)
  const dist = new Float64Array(k)
  const idx = new Int32Array(k)
  let acc = 0
  for (let i = 0; i < n; i++) {
    tree.knn(z.data, i * z.cols, k, i, dist, idx)
    if (o.algorithm === 1) {
      const eps = dist[k - 1] as number
      // counts include i itself (distance 0 < eps unless eps = 0), so n_x + 1 = count when eps > 0
      const nx = eps > 0 ? cx.count(i, eps, true) - 1 : 0
      const ny = eps > 0 ? cy.count(i, eps, true) - 1 : 0
      acc += digammaInt(nx + 1) + digammaInt(ny + 1)
    } else {
      const ex = cx.maxDistance(i, idx, k)
      const ey = cy.maxDistance(i, idx, k)
      acc += digammaInt(cx.count(i, ex, false) - 1) + digammaInt(cy.count(i, ey, false) - 1)
    }
  }
  const base = digammaInt(k) + digammaInt(n) - (o.algorithm === 2 ? 1 / k : 0)
  return base - acc / n
}

/** Options of {@link mixedKsgMutualInformation}. */
export interface MixedKsgOptions {
  /** Number of neighbours (5). */
  k: number
}

/** Gao et al. (2017) mixed discrete–continuous KSG mutual information in nats. */
export function mixedKsgMutualInformation(
  x: SampleInput,
  y: SampleInput,
  options: Partial<MixedKsgOptions> = {},
): number {
  const k = options.k ?? 5
  checkK(k, 'mixedKsgMutualInformation')
  const mx = toMatrix(x, 'X')
  const my = toMatrix(y, 'Y')
  checkSameRows(mx, my, 'mixedKsgMutualInformation')
  const n = mx.rows
  if (n <= k) return 0
  const z = hstack(mx, my)
  const tree = new ChebyshevKdTree(z.data, n, z.cols)
  const cx = new MarginalCounter(mx)
  const cy = new MarginalCounter(my)
  const dist = new Float64Array(k)
  const idx = new Int32Array(k)
  let acc = 0
  for (let i = 0; i < n; i++) {
    tree.knn(z.data, i * z.cols, k, i, dist, idx)
    const rho = dist[k - 1] as number
    let kt: number
    let nx: number
    let ny: number
    if (rho === 0) {
      kt = tree.countWithin(z.data, i * z.cols, 0, false)
      nx = cx.count(i, 0, false)
      ny = cy.count(i, 0, false)
    } else {
      kt = k
      nx = cx.count(i, rho, true)
      ny = cy.count(i, rho, true)
    }
    acc += digammaInt(kt) + Math.log(n) - digammaInt(nx) - digammaInt(ny)
  }
  return acc / n
}
