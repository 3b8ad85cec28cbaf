/**
 * Spectral graph theory for the swarm (spec swarm.md §10, §17.3).
 *
 * - λ2 of the combinatorial Laplacian L = D − A or of the symmetric normalized Laplacian
 *   L_sym = I − D^{-1/2} A D^{-1/2}, always labelled. Small graphs (n ≤ {@link DENSE_MAX_N}) use a
 *   dense symmetric eigensolver (ml-matrix, tred2 + tql2); larger ones a sparse Lanczos iteration
 *   with full re-orthogonalisation (Lanczos 1950; Golub & Van Loan, "Matrix Computations" §10.1)
 *   on the shifted operator M = 2I − L_sym (or c·I − L with c = 2·d_max), deflating the known top
 *   eigenvector (D^{1/2}·1, or 1), so the largest Ritz value μ of M gives λ2 = 2 − μ (or c − μ).
 *   The small tridiagonal eigenproblem T_k is solved with ml-matrix. A disconnected graph has
 *   λ2 = 0 whatever the normalisation (REC §10.1; the original reported 1.0 with an isolated node).
 * - A values-only dense reference: Householder tridiagonalisation plus Sturm-sequence bisection
 *   (Golub & Van Loan §8.4), O(n³) without eigenvectors — used to cross-check Lanczos up to n ≈ 1000.
 * - Cheeger bounds from the Fiedler sweep cut (REC §10.2): with g = D^{-1/2}·f sorted, the best
 *   prefix conductance φ_sweep satisfies φ_sweep ≤ √(2·λ2) (Chung, "Spectral Graph Theory", 1997,
 *   Thm 2.2) and φ(G) ≤ φ_sweep, so [φ_sweep²/2, 2·φ_sweep] is a rigorous bracket on normalized λ2.
 *   The original's sign cut φ_sign is kept only as a diagnostic ([D-15]).
 * - The original's random-cut "conductance estimate", which is an upper bound on φ(G) ([D-16]).
 * - The epidemic threshold 1/λ_max(A) by power iteration on A + I (the shift makes the Perron root
 *   the unique dominant eigenvalue even for bipartite graphs).
 * - Predicted rounds t ≈ C·ln n / λ2 (§10.5).
 */
import { PythonRandom } from '@plora/common'
import { EigenvalueDecomposition, Matrix } from 'ml-matrix'
import { SwarmError, SwarmErrorCode } from './errors.js'
import type { Adjacency, Csr } from './graph.js'

/** Up to this n, {@link fiedler} uses the dense eigensolver in `auto` mode. */
export const DENSE_MAX_N = 300

/** Which Laplacian a λ2 belongs to. */
export type LaplacianKind = 'normalized' | 'combinatorial'

/** Symmetric, loop-free, duplicate-free CSR of an adjacency (the original symmetrises too, §10). */
export function symmetricCsr(adj: Adjacency): Csr {
  const n = adj.length
  const rows: number[][] = Array.from({ length: n }, () => [])
  for (let u = 0; u < n; u++) {
    for (const v of adj[u]!) {
      if (v === u || v < 0 || v >= n) continue
      rows[u]!.push(v)
      rows[v]!.push(u)
    }
  }
  const offsets = new Int32Array(n + 1)
  const uniq: number[][] = rows.map((r) => {
    r.sort((a, b) => a - b)
    const out: number[] = []
    for (let i = 0; i < r.length; i++) if (i === 0 || r[i] !== r[i - 1]) out.push(r[i]!)
    return out
  })
  for (let i = 0; i < n; i++) offsets[i + 1] = offsets[i]! + uniq[i]!.length
  const targets = new Int32Array(offsets[n]!)
  for (let i = 0; i < n; i++) targets.set(uniq[i]!, offsets[i]!)
  return { n, offsets, targets }
}

function degrees(g: Csr): Float64Array {
  const d = new Float64Array(g.n)
  for (let i = 0; i < g.n; i++) d[i] = g.offsets[i + 1]! - g.offsets[i]!
  return d
}

function connectedCsr(g: Csr): boolean {
  if (g.n === 0) return true
  const seen = new Uint8Array(g.n)
  const queue = new Int32Array(g.n)
  let head = 0
  let tail = 1
  seen[0] = 1
  while (head < tail) {
    const u = queue[head++]!
    for (let k = g.offsets[u]!; k < g.offsets[u + 1]!; k++) {
      const v = g.targets[k]!
      if (!seen[v]) {
        seen[v] = 1
        queue[tail++] = v
      }
    }
  }
  return tail === g.n
}

/** The dense Laplacian (normalized or combinatorial) as an ml-matrix. */
export function denseLaplacian(g: Csr, kind: LaplacianKind): Matrix {
  const n = g.n
  const m = new Matrix(n, n)
  const deg = degrees(g)
  for (let i = 0; i < n; i++) {
    if (kind === 'combinatorial') m.set(i, i, deg[i]!)
    else m.set(i, i, 1)
    for (let k = g.offsets[i]!; k < g.offsets[i + 1]!; k++) {
      const j = g.targets[k]!
      // Degrees clamped to ≥ 1 as in the original (only matters for isolated nodes).
      const w = kind === 'combinatorial' ? -1 : -1 / Math.sqrt(Math.max(1, deg[i]!) * Math.max(1, deg[j]!))
      m.set(i, j, w)
    }
  }
  return m
}

/** Result of {@link fiedler}. */
export interface FiedlerResult {
  lambda2: number
  laplacian: LaplacianKind
  /** Unit eigenvector of the Laplacian for λ2 (empty for n < 2 or a disconnected graph). */
  vector: Float64Array
  method: 'dense' | 'lanczos' | 'disconnected' | 'trivial'
  /** Lanczos iterations used (0 for dense). */
  iterations: number
  /** ‖L·v − λ2·v‖ of the returned pair. */
  residual: number
}

/** Options of {@link fiedler}. */
export interface FiedlerOptions {
  normalized: boolean
  method: 'auto' | 'dense' | 'lanczos'
  /** Lanczos stop: Ritz residual below `tol` (default 1e-10). */
  tol: number
  /** Lanczos iteration cap (default 400). */
  maxIterations: number
  /** Seed of the Lanczos start vector (default 12345). */
  seed: number
  /** `full` Gram–Schmidt every step, `partial` (Simon's ω-recurrence), `auto` = partial above {@link PARTIAL_REORTH_MIN_N}. */
  reorthogonalization: 'auto' | 'full' | 'partial'
}

const DEFAULT_FIEDLER_OPTIONS: FiedlerOptions = {
  normalized: true,
  method: 'auto',
  tol: 1e-10,
  maxIterations: 400,
  seed: 12345,
  reorthogonalization: 'auto',
}

/** Above this n, `auto` re-orthogonalisation is partial (the O(k²·n) full cost dominates there). */
export const PARTIAL_REORTH_MIN_N = 5000

function clampLambda(l: number, kind: LaplacianKind): number {
  if (l > -1e-9 && l < 0) return 0
  return kind === 'normalized' ? Math.min(2, Math.max(0, l)) : l
}

/** y = L·x for the chosen Laplacian (sparse). */
function laplacianMatvec(g: Csr, kind: LaplacianKind, invSqrtDeg: Float64Array, deg: Float64Array) {
  return (x: Float64Array, y: Float64Array): void => {
    const { offsets, targets } = g
    for (let i = 0; i < g.n; i++) {
      let s = 0
      if (kind === 'normalized') {
        for (let k = offsets[i]!; k < offsets[i + 1]!; k++) {
          const j = targets[k]!
          s += x[j]! * invSqrtDeg[j]!
        }
        y[i] = x[i]! - invSqrtDeg[i]! * s
      } else {
        for (let k = offsets[i]!; k < offsets[i + 1]!; k++) s += x[targets[k]!]!
        y[i] = deg[i]! * x[i]! - s
      }
    }
  }
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!
  return s
}

function axpy(alpha: number, x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < y.length; i++) y[i]! += alpha * x[i]!
}

function normalize(x: Float64Array): number {
  const nrm = Math.sqrt(dot(x, x))
  if (nrm > 0) for (let i = 0; i < x.length; i++) x[i]! /= nrm
  return nrm
}

/**
 * λ2 and the Fiedler vector of the normalized (default) or combinatorial Laplacian.
 *
 * @example
 * fiedler(pathGraph5).lambda2 // 0.2928932188134525 (normalized)
 */
export function fiedler(adj: Adjacency | Csr, options: Partial<FiedlerOptions> = {}): FiedlerResult {
  const o = { ...DEFAULT_FIEDLER_OPTIONS, ...options }
  const kind: LaplacianKind = o.normalized ? 'normalized' : 'combinatorial'
  const g = Array.isArray(adj) ? symmetricCsr(adj) : adj
  const n = g.n
  if (n < 2) {
    return { lambda2: 0, laplacian: kind, vector: new Float64Array(0), method: 'trivial', iterations: 0, residual: 0 }
  }
  if (!connectedCsr(g)) {
    return {
      lambda2: 0,
      laplacian: kind,
      vector: new Float64Array(0),
      method: 'disconnected',
      iterations: 0,
      residual: 0,
    }
  }
  const deg = degrees(g)
  const invSqrtDeg = new Float64Array(n)
  for (let i = 0; i < n; i++) invSqrtDeg[i] = 1 / Math.sqrt(Math.max(1, deg[i]!))
  const matvec = laplacianMatvec(g, kind, invSqrtDeg, deg)
  const useDense = o.method === 'dense' || (o.method === 'auto' && n <= DENSE_MAX_N)
  let lambda: number
  let vec: Float64Array
  let iterations = 0
  if (useDense) {
    const evd = new EigenvalueDecomposition(denseLaplacian(g, kind), { assumeSymmetric: true })
    const values = evd.realEigenvalues
    const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0])
    const idx = order[1]![1]
    lambda = values[idx]!
    vec = Float64Array.from(evd.eigenvectorMatrix.getColumn(idx))
  } else {
    // Shifted operator M = c·I − L: its top eigenvector (D^{1/2}·1 or 1) is deflated, so the
    // largest remaining eigenvalue is c − λ2 — an extreme eigenvalue, where Lanczos converges fastest.
    let dmax = 0
    for (let i = 0; i < n; i++) dmax = Math.max(dmax, deg[i]!)
    const c = kind === 'normalized' ? 2 : 2 * dmax
    const top = new Float64Array(n)
    for (let i = 0; i < n; i++) top[i] = kind === 'normalized' ? Math.sqrt(Math.max(1, deg[i]!)) : 1
    normalize(top)
    const tmp = new Float64Array(n)
    const shifted = (x: Float64Array, y: Float64Array): void => {
      matvec(x, tmp)
      for (let i = 0; i < n; i++) y[i] = c * x[i]! - tmp[i]!
    }
    const partial =
      o.reorthogonalization === 'partial' || (o.reorthogonalization === 'auto' && n > PARTIAL_REORTH_MIN_N)
    const r = lanczosLargest(shifted, n, [top], o.tol, o.maxIterations, o.seed, partial)
    lambda = c - r.value
    vec = r.vector
    iterations = r.iterations
  }
  const lv = new Float64Array(n)
  matvec(vec, lv)
  axpy(-lambda, vec, lv)
  const residual = Math.sqrt(dot(lv, lv))
  return {
    lambda2: clampLambda(lambda, kind),
    laplacian: kind,
    vector: vec,
    method: useDense ? 'dense' : 'lanczos',
    iterations,
    residual,
  }
}

/**
 * Largest eigenpair of a symmetric operator on the orthogonal complement of `deflate`, by Lanczos
 * with full re-orthogonalisation (two Gram–Schmidt passes). Ritz pairs come from ml-matrix on T_k.
 */
function lanczosLargest(
  op: (x: Float64Array, y: Float64Array) => void,
  n: number,
  deflate: Float64Array[],
  tol: number,
  maxIterations: number,
  seed: number,
  partial: boolean,
): { value: number; vector: Float64Array; iterations: number } {
  const rng = new PythonRandom(seed)
  const kmax = Math.min(maxIterations, n - deflate.length)
  const q0 = new Float64Array(n)
  for (let i = 0; i < n; i++) q0[i] = rng.random() - 0.5
  // Classical Gram–Schmidt with the DGKS criterion: a second pass only when the first removed
  // most of the vector's norm (Daniel, Gragg, Kaufman & Stewart 1976) — full re-orthogonalisation
  // at about half the cost of always doing two passes.
  const coef = new Float64Array(kmax + deflate.length + 1)
  const orth = (w: Float64Array, basis: Float64Array[]): void => {
    const all = deflate.length > 0 ? [...deflate, ...basis] : basis
    for (let pass = 0; pass < 2; pass++) {
      const before = Math.sqrt(dot(w, w))
      for (let j = 0; j < all.length; j++) coef[j] = dot(all[j]!, w)
      for (let j = 0; j < all.length; j++) axpy(-coef[j]!, all[j]!, w)
      if (Math.sqrt(dot(w, w)) > Math.SQRT1_2 * before) break
    }
  }
  orth(q0, [])
  normalize(q0)
  const Q: Float64Array[] = [q0]
  const alpha: number[] = []
  const beta: number[] = []
  const w = new Float64Array(n)
  let best: { value: number; coeffs: number[] } = { value: 0, coeffs: [1] }
  const ritz = (k: number): { value: number; coeffs: number[]; res: number; gap: number } => {
    const d = Float64Array.from(alpha.slice(0, k))
    const e = Float64Array.from(beta.slice(0, k - 1))
    let coeffs: number[]
    let value: number
    let gap = Number.POSITIVE_INFINITY
    if (k <= RITZ_DENSE_MAX) {
      // Small T_k: ml-matrix's symmetric QL gives the Ritz pair directly.
      const T = new Matrix(k, k)
      for (let i = 0; i < k; i++) {
        T.set(i, i, d[i]!)
        if (i + 1 < k) {
          T.set(i, i + 1, e[i]!)
          T.set(i + 1, i, e[i]!)
        }
      }
      const evd = new EigenvalueDecomposition(T, { assumeSymmetric: true })
      const vals = evd.realEigenvalues
      let idx = 0
      for (let i = 1; i < k; i++) if (vals[i]! > vals[idx]!) idx = i
      value = vals[idx]!
      coeffs = evd.eigenvectorMatrix.getColumn(idx)
      let second = Number.NEGATIVE_INFINITY
      for (let i = 0; i < k; i++) if (i !== idx && vals[i]! > second) second = vals[i]!
      gap = value - second
    } else {
      // Large T_k: Sturm bisection for the top eigenvalue, inverse iteration for its vector — O(k).
      let bound = 0
      for (let i = 0; i < k; i++)
        bound = Math.max(bound, Math.abs(d[i]!) + Math.abs(e[i] ?? 0) + Math.abs(e[i - 1] ?? 0))
      value = bisectKth(d, e, k - 1, -bound - 1, bound + 1)
      gap = value - bisectKth(d, e, k - 2, -bound - 1, bound + 1)
      coeffs = tridiagonalInverseIteration(d, e, value)
    }
    const res = Math.abs((beta[k - 1] ?? 0) * coeffs[k - 1]!)
    return { value, coeffs, res, gap }
  }
  // Partial re-orthogonalisation (Simon 1984): ω[k] estimates q_{j+1}ᵀq_k by the ω-recurrence;
  // full Gram–Schmidt runs only when some |ω| exceeds √ε (and on the step after), which keeps the
  // basis semi-orthogonal — enough for Ritz values accurate to working precision.
  const EPS = Number.EPSILON
  const eps1 = Math.sqrt(n) * EPS * 0.5
  let omegaPrev = new Float64Array(kmax + 2)
  let omegaCur = new Float64Array(kmax + 2)
  let omegaNext = new Float64Array(kmax + 2)
  omegaCur[0] = 1
  let forceNext = false
  let reorths = 0
  let k = 0
  for (; k < kmax; k++) {
    const q = Q[k]!
    op(q, w)
    const a = dot(q, w)
    alpha.push(a)
    axpy(-a, q, w)
    if (k > 0) axpy(-beta[k - 1]!, Q[k - 1]!, w)
    let b: number
    if (partial) {
      for (const d of deflate) axpy(-dot(d, w), d, w)
      b = Math.sqrt(dot(w, w))
      // ω_{k+1,i} for i ≤ k from ω_{k,·} and ω_{k−1,·}.
      let worst = 0
      if (b > 0) {
        for (let i = 0; i < k; i++) {
          let v =
            beta[i]! * omegaCur[i + 1]! + (alpha[i]! - a) * omegaCur[i]! - (k > 0 ? beta[k - 1]! * omegaPrev[i]! : 0)
          if (i > 0) v += beta[i - 1]! * omegaCur[i - 1]!
          v /= b
          v += v >= 0 ? eps1 : -eps1
          omegaNext[i] = v
          if (Math.abs(v) > worst) worst = Math.abs(v)
        }
        omegaNext[k] = eps1
      }
      if (forceNext || worst > Math.sqrt(EPS)) {
        orth(w, Q)
        reorths++
        b = Math.sqrt(dot(w, w))
        for (let i = 0; i <= k; i++) omegaNext[i] = eps1
        // The step after a re-orthogonalisation is re-orthogonalised too (Simon's rule).
        forceNext = !forceNext
      }
      omegaNext[k + 1] = 1
      ;[omegaPrev, omegaCur, omegaNext] = [omegaCur, omegaNext, omegaPrev]
    } else {
      orth(w, Q)
      b = Math.sqrt(dot(w, w))
    }
    beta.push(b)
    const done = b < 1e-13 || k + 1 === kmax
    // Solving T_k costs O(k³): check every few steps, and at the end.
    if (done || (k + 1) % 8 === 0) {
      const r = ritz(k + 1)
      best = r
      // Stop when the eigenvalue error bound min(res, res²/gap) (Parlett, "The Symmetric
      // Eigenvalue Problem", Thm 11.7.1) is below tol, and the vector is reasonable (res < √tol).
      const bound = Math.min(r.res, (r.res * r.res) / Math.max(r.gap, 1e-300))
      if (done || (bound < tol * Math.max(1, Math.abs(r.value)) && r.res < Math.sqrt(tol))) {
        k++
        break
      }
    }
    const next = new Float64Array(n)
    for (let i = 0; i < n; i++) next[i] = w[i]! / b
    Q.push(next)
  }
  void reorths
  const vector = new Float64Array(n)
  for (let j = 0; j < best.coeffs.length; j++) axpy(best.coeffs[j]!, Q[j]!, vector)
  normalize(vector)
  return { value: best.value, vector, iterations: k }
}

/** Ritz problems up to this size go to ml-matrix; larger ones to bisection + inverse iteration. */
const RITZ_DENSE_MAX = 160

/** Eigenvector of the symmetric tridiagonal (d, e) for eigenvalue ≈ `shift`, by inverse iteration. */
function tridiagonalInverseIteration(d: Float64Array, e: Float64Array, shift: number): number[] {
  const k = d.length
  // Perturb the shift slightly so (T − σI) is invertible but nearly singular in the wanted direction.
  const sigma = shift + 1e-10 * Math.max(1, Math.abs(shift))
  let x = new Float64Array(k).fill(1 / Math.sqrt(k))
  const c = new Float64Array(k)
  const y = new Float64Array(k)
  for (let it = 0; it < 3; it++) {
    // Thomas algorithm with partial safeguards (the matrix is symmetric tridiagonal).
    let denom = d[0]! - sigma
    if (denom === 0) denom = 1e-300
    c[0] = (e[0] ?? 0) / denom
    y[0] = x[0]! / denom
    for (let i = 1; i < k; i++) {
      denom = d[i]! - sigma - e[i - 1]! * c[i - 1]!
      if (denom === 0) denom = 1e-300
      c[i] = (e[i] ?? 0) / denom
      y[i] = (x[i]! - e[i - 1]! * y[i - 1]!) / denom
    }
    for (let i = k - 2; i >= 0; i--) y[i]! -= c[i]! * y[i + 1]!
    const nrm = Math.sqrt(dot(y, y))
    x = Float64Array.from(y, (v) => v / nrm)
  }
  return Array.from(x)
}

/**
 * The original's `spectral_gap(adj, normalized=false)` (§10.1): λ2 of the combinatorial Laplacian
 * by default, of L_sym with `normalized`. 0 for n < 2 and for disconnected graphs (REC).
 */
export function spectralGap(adj: Adjacency | Csr, normalized = false, options: Partial<FiedlerOptions> = {}): number {
  return fiedler(adj, { ...options, normalized }).lambda2
}

/**
 * All eigenvalues of a dense symmetric matrix, ascending, without eigenvectors: Householder
 * reduction to tridiagonal form, then Sturm-sequence bisection for each eigenvalue. `a` is
 * row-major n×n and is overwritten.
 */
export function symmetricEigenvalues(a: Float64Array, n: number, which?: readonly number[]): number[] {
  const { diag, off } = householderTridiagonal(a, n)
  let bound = 0
  for (let i = 0; i < n; i++)
    bound = Math.max(bound, Math.abs(diag[i]!) + Math.abs(off[i] ?? 0) + Math.abs(off[i - 1] ?? 0))
  const idx = which ?? Array.from({ length: n }, (_, i) => i)
  return idx.map((k) => bisectKth(diag, off, k, -bound - 1, bound + 1))
}

/** Householder tridiagonalisation (Golub & Van Loan Alg. 8.3.1), values only. */
function householderTridiagonal(a: Float64Array, n: number): { diag: Float64Array; off: Float64Array } {
  const v = new Float64Array(n)
  const p = new Float64Array(n)
  for (let k = 0; k < n - 2; k++) {
    let alpha = 0
    for (let i = k + 1; i < n; i++) alpha += a[i * n + k]! * a[i * n + k]!
    alpha = Math.sqrt(alpha)
    if (alpha === 0) continue
    const x0 = a[(k + 1) * n + k]!
    if (x0 > 0) alpha = -alpha
    // v = x − alpha·e1, H = I − 2vvᵀ/(vᵀv)
    let vnorm2 = 0
    for (let i = k + 1; i < n; i++) {
      v[i] = a[i * n + k]!
      if (i === k + 1) v[i]! -= alpha
      vnorm2 += v[i]! * v[i]!
    }
    if (vnorm2 === 0) continue
    const beta = 2 / vnorm2
    // p = beta·A·v ; K = beta/2 · vᵀp ; q = p − K·v ; A ← A − v qᵀ − q vᵀ (on the trailing block)
    for (let i = k + 1; i < n; i++) {
      let s = 0
      const row = i * n
      for (let j = k + 1; j < n; j++) s += a[row + j]! * v[j]!
      p[i] = beta * s
    }
    let kk = 0
    for (let i = k + 1; i < n; i++) kk += v[i]! * p[i]!
    kk *= beta / 2
    for (let i = k + 1; i < n; i++) p[i]! -= kk * v[i]!
    for (let i = k + 1; i < n; i++) {
      const row = i * n
      const vi = v[i]!
      const pi = p[i]!
      for (let j = k + 1; j < n; j++) a[row + j]! -= vi * p[j]! + pi * v[j]!
    }
    a[(k + 1) * n + k] = alpha
    a[k * n + k + 1] = alpha
    for (let i = k + 2; i < n; i++) {
      a[i * n + k] = 0
      a[k * n + i] = 0
    }
  }
  const diag = new Float64Array(n)
  const off = new Float64Array(Math.max(0, n - 1))
  for (let i = 0; i < n; i++) diag[i] = a[i * n + i]!
  for (let i = 0; i + 1 < n; i++) off[i] = a[(i + 1) * n + i]!
  return { diag, off }
}

/** Number of eigenvalues of the tridiagonal (diag, off) that are < x (Sturm sequence). */
function countBelow(diag: Float64Array, off: Float64Array, x: number): number {
  let count = 0
  let q = diag[0]! - x
  if (q < 0) count++
  for (let i = 1; i < diag.length; i++) {
    const b = off[i - 1]!
    q = diag[i]! - x - (b * b) / (q === 0 ? 1e-300 : q)
    if (q < 0) count++
  }
  return count
}

function bisectKth(diag: Float64Array, off: Float64Array, k: number, lo: number, hi: number): number {
  // Invariant: countBelow(lo) ≤ k < countBelow(hi).
  for (let it = 0; it < 200 && hi - lo > 1e-15 * Math.max(1, Math.abs(lo) + Math.abs(hi)); it++) {
    const mid = 0.5 * (lo + hi)
    if (countBelow(diag, off, mid) > k) hi = mid
    else lo = mid
  }
  return 0.5 * (lo + hi)
}

/** λ2 by the dense values-only reference solver (O(n³)); for cross-checks. */
export function denseLambda2(adj: Adjacency | Csr, normalized = true): number {
  const g = Array.isArray(adj) ? symmetricCsr(adj) : adj
  if (g.n < 2) return 0
  const kind: LaplacianKind = normalized ? 'normalized' : 'combinatorial'
  const m = denseLaplacian(g, kind)
  const a = new Float64Array(g.n * g.n)
  for (let i = 0; i < g.n; i++) for (let j = 0; j < g.n; j++) a[i * g.n + j] = m.get(i, j)
  return clampLambda(symmetricEigenvalues(a, g.n, [1])[0]!, kind)
}

/** Cheeger bracket on normalized λ2 from the Fiedler sweep cut (REC §10.2). */
export interface CheegerBounds {
  /** φ_sweep² / 2 ≤ λ2 (Cheeger). */
  lower: number
  /** λ2 ≤ 2·φ(G) ≤ 2·φ_sweep. */
  upper: number
  /** The best prefix conductance of the sweep over D^{-1/2}·f. */
  phi_sweep: number
  /** The original's sign-cut conductance (diagnostic only; its φ²/2 is not a valid lower bound). */
  phi_sign: number
  lambda2: number
}

/**
 * Cheeger bounds on the normalized λ2 by a Fiedler sweep cut: O(m + n log n) after the
 * eigenvector. Disconnected graphs give φ = 0 and the bracket [0, 0].
 */
export function cheegerBounds(adj: Adjacency | Csr, options: Partial<FiedlerOptions> = {}): CheegerBounds {
  const g = Array.isArray(adj) ? symmetricCsr(adj) : adj
  const f = fiedler(g, { ...options, normalized: true })
  const n = g.n
  if (f.vector.length === 0) return { lower: 0, upper: 0, phi_sweep: 0, phi_sign: 0, lambda2: f.lambda2 }
  const deg = degrees(g)
  let volTotal = 0
  for (let i = 0; i < n; i++) volTotal += deg[i]!
  const score = new Float64Array(n)
  for (let i = 0; i < n; i++) score[i] = f.vector[i]! / Math.sqrt(Math.max(1, deg[i]!))
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => score[a]! - score[b]! || a - b)
  const inS = new Uint8Array(n)
  let vol = 0
  let cut = 0
  let best = Number.POSITIVE_INFINITY
  for (let r = 0; r < n - 1; r++) {
    const u = order[r]!
    let inside = 0
    for (let k = g.offsets[u]!; k < g.offsets[u + 1]!; k++) if (inS[g.targets[k]!]) inside++
    inS[u] = 1
    vol += deg[u]!
    // Edges from u into S stop being cut; its other edges start being cut.
    cut += deg[u]! - 2 * inside
    const phi = cut / Math.max(1, Math.min(vol, volTotal - vol))
    if (phi < best) best = phi
  }
  // The original's sign cut: S = {i : f_i ≥ 0}.
  let signCut = 0
  let volS = 0
  for (let u = 0; u < n; u++) {
    if (!(f.vector[u]! >= 0)) continue
    volS += deg[u]!
    for (let k = g.offsets[u]!; k < g.offsets[u + 1]!; k++) if (!(f.vector[g.targets[k]!]! >= 0)) signCut++
  }
  const phiSign = signCut / Math.max(1, Math.min(volS, volTotal - volS))
  return { lower: (best * best) / 2, upper: 2 * best, phi_sweep: best, phi_sign: phiSign, lambda2: f.lambda2 }
}

/**
 * The original's `conductance_estimate(adj, trials, seed)` (§10.3): the minimum conductance over
 * `trials` random balanced cuts drawn from `Random(seed)` — an upper bound on φ(G), not an
 * estimate of it ([D-16]); also exported as {@link randomCutConductanceUpperBound}.
 */
export function conductanceEstimate(adj: Adjacency, trials = 64, seed = 42): number {
  const n = adj.length
  const rng = new PythonRandom(seed)
  let total = 0
  for (const row of adj) total += row.length
  let best = Number.POSITIVE_INFINITY
  const inS = new Uint8Array(n)
  for (let t = 0; t < trials; t++) {
    let size = 0
    for (let i = 0; i < n; i++) {
      inS[i] = rng.random() < 0.5 ? 1 : 0
      size += inS[i]!
    }
    if (size === 0 || size === n) continue
    let cut = 0
    let volS = 0
    for (let u = 0; u < n; u++) {
      if (!inS[u]) continue
      volS += adj[u]!.length
      for (const v of adj[u]!) if (!inS[v]) cut++
    }
    const phi = cut / Math.max(1, Math.min(volS, total - volS))
    if (phi < best) best = phi
  }
  return Number.isFinite(best) ? best : 0
}

/** Honest name of {@link conductanceEstimate} (REC §10.3). */
export const randomCutConductanceUpperBound = conductanceEstimate

/** λ_max(A), the spectral radius of the adjacency, by power iteration on A + I. */
export function adjacencySpectralRadius(
  adj: Adjacency | Csr,
  options: { tol?: number; maxIterations?: number } = {},
): number {
  const g = Array.isArray(adj) ? symmetricCsr(adj) : adj
  const n = g.n
  if (n === 0) return 0
  const tol = options.tol ?? 1e-12
  const maxIt = options.maxIterations ?? 100_000
  let x = new Float64Array(n).fill(1 / Math.sqrt(n))
  let y = new Float64Array(n)
  let lambda = 0
  for (let it = 0; it < maxIt; it++) {
    for (let i = 0; i < n; i++) {
      let s = x[i]!
      for (let k = g.offsets[i]!; k < g.offsets[i + 1]!; k++) s += x[g.targets[k]!]!
      y[i] = s
    }
    const next = dot(x, y) - 1
    normalize(y)
    ;[x, y] = [y, x]
    if (Math.abs(next - lambda) <= tol * Math.max(1, Math.abs(next))) {
      lambda = next
      break
    }
    lambda = next
  }
  return lambda
}

/**
 * The original's `epidemic_threshold(adj)` (§10.4): β_c = 1/λ_max(A); 0 for n = 0, +∞ when
 * λ_max ≤ 0 (callers serialise +∞ as null plus a flag, §17.4).
 */
export function epidemicThreshold(adj: Adjacency | Csr): number {
  const n = Array.isArray(adj) ? adj.length : adj.n
  if (n === 0) return 0
  const lmax = adjacencySpectralRadius(adj)
  return lmax <= 1e-12 ? Number.POSITIVE_INFINITY : 1 / lmax
}

/** Options of {@link predictedRoundsSpectral}. */
export interface PredictedRoundsOptions {
  /** The constant C (default 0.7, the original code's value — its docstring said 2.0, [D-26]). */
  C: number
  normalized: boolean
  /** p in ln(n / (1 − p)); null = ln n. */
  initialInformedFraction: number | null
  safetyMargin: number
}

/**
 * The original's `predicted_rounds_spectral` (§10.5): t = ⌈C · ln n / λ2⌉ (at least 1), with the
 * unnormalized λ2 clamped to [ε, 1].
 */
export function predictedRoundsSpectral(
  n: number,
  lambda2: number,
  options: Partial<PredictedRoundsOptions> = {},
): number {
  const o: PredictedRoundsOptions = {
    C: 0.7,
    normalized: false,
    initialInformedFraction: null,
    safetyMargin: 0,
    ...options,
  }
  if (n <= 1) return 0
  const eps = 1e-9
  const lam = o.normalized ? Math.max(lambda2, eps) : Math.min(1, Math.max(lambda2, eps))
  if (lambda2 <= eps) return Math.max(1, Math.ceil(o.C * Math.log(n) * n))
  const p = o.initialInformedFraction
  const logTerm = p !== null && p > 0 && p < 1 ? Math.log(n / (1 - p)) : Math.log(n)
  let t = (o.C * logTerm) / lam
  if (o.safetyMargin > 0) t *= 1 + o.safetyMargin
  return Math.max(1, Math.ceil(t))
}

/** Throws `SWARM_SPECTRAL_FAILED` when a spectral result is not finite. */
export function requireFinite(value: number, what: string): number {
  if (!Number.isFinite(value))
    throw new SwarmError(SwarmErrorCode.SpectralFailed, `${what} is not finite (found ${value})`)
  return value
}
