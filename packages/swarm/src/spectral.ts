/**
 * Spectral graph theory for the swarm (spec swarm.md §10, §17.3).
 *
 * - λ2 of the combinatorial Laplacian L = D − A or of the symmetric normalized Laplacian
 *   L_sym = I − D^{-1/2} A D^{-1/2}, always labelled. Small graphs (n ≤ {@link DENSE_MAX_N}) use a
 *   dense symmetric eigensolver (ml-matrix, tred2 + tql2); larger ones a sparse Lanczos iteration
 *   (Lanczos 1950; Golub & Van Loan, "Matrix Computations" §10.1) on the shifted operator
 *   M = 2I − L_sym (or c·I − L with c = 2·d_max), deflating the known top eigenvector (D^{1/2}·1,
 *   or 1), so the largest Ritz value μ of M gives λ2 = 2 − μ (or c − μ). Three variants: full
 *   re-orthogonalisation every step (default up to {@link PARTIAL_REORTH_MIN_N}); Simon's partial
 *   re-orthogonalisation (default above it — the fastest here: the operator pass returns α, the
 *   recurrence, deflation and norm share one pass, and T_k's top Ritz pair costs O(k) by bisection
 *   and inverse iteration); and thick-restart Lanczos (Wu & Simon 2000) with a bounded basis of
 *   `ncv` vectors, for bounded memory. A disconnected graph has λ2 = 0 whatever the normalisation
 *   (REC §10.1; the original reported 1.0 with an isolated node).
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
  /** Lanczos iteration (operator application) cap (default 400; counts every restart cycle's steps). */
  maxIterations: number
  /** Seed of the Lanczos start vector (default 12345). */
  seed: number
  /**
   * `full`: Gram–Schmidt every step; `partial`: Simon's ω-recurrence; `auto` = partial above
   * {@link PARTIAL_REORTH_MIN_N}, else full; `restart`: thick-restart Lanczos with a basis of at most
   * `ncv` vectors, fully re-orthogonalised (bounded memory).
   */
  reorthogonalization: 'auto' | 'full' | 'partial' | 'restart'
  /** Basis size of the thick-restart solver; 0 = {@link DEFAULT_NCV}. */
  ncv: number
}

const DEFAULT_FIEDLER_OPTIONS: FiedlerOptions = {
  normalized: true,
  method: 'auto',
  tol: 1e-10,
  maxIterations: 400,
  seed: 12345,
  reorthogonalization: 'auto',
  ncv: 0,
}

/** Default basis size of the thick-restart Lanczos solver (ARPACK's eigsh uses max(2k + 1, 20)). */
export const DEFAULT_NCV = 24

/**
 * Above this n, `auto` re-orthogonalisation is partial (the O(k²·n) full cost dominates there);
 * below it, full, as spec swarm.md §17.3 recommends (at n = 3000 full took ≈ 4× partial's time,
 * 0.17 s against 0.04 s, on a loaded 2-core machine). Thick restart (`restart`) is opt-in: in
 * JavaScript its full Gram–Schmidt against the bounded basis costs more per step than the sparse
 * matvec — at n = 10⁵ (ER, mean degree 10) ncv = 10/16/24/40 took 209/156/144/140 steps and
 * ≈ 1.6–3× the time of partial's 135 steps (measured side by side on a loaded machine) — but its
 * memory is (ncv + 1 + ncv/2)·n numbers instead of one vector per step.
 */
export const PARTIAL_REORTH_MIN_N = 5000

function clampLambda(l: number, kind: LaplacianKind): number {
  if (l > -1e-9 && l < 0) return 0
  return kind === 'normalized' ? Math.min(2, Math.max(0, l)) : l
}

/**
 * y = (c·I − L)·x in one pass over the CSR, returning xᵀy (the Lanczos α) from the same pass: for L_sym, y_i = (c − 1)·x_i + d_i^{-1/2}·Σ_j d_j^{-1/2}·x_j
 * with the x_j·d_j^{-1/2} prescaled once; for L = D − A, y_i = (c − d_i)·x_i + Σ_j x_j.
 */
function shiftedMatvec(
  g: Csr,
  kind: LaplacianKind,
  c: number,
  invSqrtDeg: Float64Array,
  deg: Float64Array,
): (x: Float64Array, y: Float64Array) => number {
  const { n, offsets, targets } = g
  const u = new Float64Array(n)
  if (kind === 'normalized') {
    const c1 = c - 1
    return (x, y) => {
      for (let i = 0; i < n; i++) u[i] = x[i]! * invSqrtDeg[i]!
      let k = offsets[0]!
      let xy = 0
      for (let i = 0; i < n; i++) {
        const end = offsets[i + 1]!
        let s = 0
        for (; k < end; k++) s += u[targets[k]!]!
        const xi = x[i]!
        const yi = c1 * xi + invSqrtDeg[i]! * s
        y[i] = yi
        xy += xi * yi
      }
      return xy
    }
  }
  return (x, y) => {
    let k = offsets[0]!
    let xy = 0
    for (let i = 0; i < n; i++) {
      const end = offsets[i + 1]!
      let s = 0
      for (; k < end; k++) s += x[targets[k]!]!
      const xi = x[i]!
      const yi = (c - deg[i]!) * xi + s
      y[i] = yi
      xy += xi * yi
    }
    return xy
  }
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
  if (!Number.isInteger(o.ncv) || o.ncv < 0 || o.ncv === 1)
    throw new SwarmError(
      SwarmErrorCode.OptionInvalid,
      `fiedler: ncv must be 0 (default ${DEFAULT_NCV}) or an integer >= 2 (found ${o.ncv})`,
      { ncv: o.ncv },
    )
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
    const shifted = shiftedMatvec(g, kind, c, invSqrtDeg, deg)
    const partial =
      o.reorthogonalization === 'partial' || (o.reorthogonalization === 'auto' && n > PARTIAL_REORTH_MIN_N)
    const r =
      o.reorthogonalization === 'restart'
        ? thickRestartLanczosLargest(shifted, n, [top], o.tol, o.maxIterations, o.seed, o.ncv > 0 ? o.ncv : DEFAULT_NCV)
        : lanczosLargest(shifted, n, [top], o.tol, o.maxIterations, o.seed, partial)
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
 * (three-term recurrence fused with the deflation in one pass per step) with either full
 * re-orthogonalisation every step or Simon's partial re-orthogonalisation (Simon, "The Lanczos
 * algorithm with partial reorthogonalization", Math. Comp. 42, 1984): the ω-recurrence estimates
 * the loss of orthogonality and a Gram–Schmidt sweep runs only when it exceeds √ε. The Ritz pair
 * of T_k comes from Sturm bisection (top two eigenvalues, for the gap) and inverse iteration, O(k)
 * per check, so convergence is tested every step; the final Ritz vector of a small T_k
 * (k ≤ {@link RITZ_DENSE_MAX}) comes from ml-matrix.
 */
function lanczosLargest(
  op: (x: Float64Array, y: Float64Array) => number,
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
  const coef = new Float64Array(kmax + deflate.length + 1)
  // Classical Gram–Schmidt with the DGKS criterion: a second pass only when the first removed
  // most of the vector's norm (Daniel, Gragg, Kaufman & Stewart 1976).
  const orth = (w: Float64Array, basis: Float64Array[]): void => {
    const all = deflate.length > 0 ? [...deflate, ...basis] : basis
    for (let pass = 0; pass < 2; pass++) {
      const before = Math.sqrt(dot(w, w))
      multiDot(all, all.length, w, coef)
      multiAxpy(all, all.length, coef, w)
      if (Math.sqrt(dot(w, w)) > Math.SQRT1_2 * before) break
    }
  }
  orth(q0, [])
  normalize(q0)
  const Q: Float64Array[] = [q0]
  // Krylov vectors live in blocks of LANCZOS_BLOCK vectors: one allocation per block instead of one
  // per step (each large ArrayBuffer counts as external memory and can trigger a full GC).
  let block = new Float64Array(0)
  const basisVector = (j: number): Float64Array => {
    const slot = (j - 1) % LANCZOS_BLOCK
    if (slot === 0) block = new Float64Array(Math.min(LANCZOS_BLOCK, kmax - j + 1) * n)
    return block.subarray(slot * n, (slot + 1) * n)
  }
  const alpha = new Float64Array(kmax)
  const beta = new Float64Array(kmax)
  const w = new Float64Array(n)
  const d0 = deflate[0]
  let best = { value: 0, k: 1 }
  const ritz = (k: number): { value: number; res: number; gap: number; coeffs: number[] } => {
    const d = alpha.subarray(0, k)
    const e = beta.subarray(0, k - 1)
    let bound = 0
    for (let i = 0; i < k; i++) bound = Math.max(bound, Math.abs(d[i]!) + Math.abs(e[i] ?? 0) + Math.abs(e[i - 1] ?? 0))
    const value = bisectKth(d, e, k - 1, -bound - 1, bound + 1)
    const coeffs = tridiagonalInverseIteration(d, e, value)
    const res = Math.abs(beta[k - 1]! * coeffs[k - 1]!)
    // The gap (second Ritz value) only matters once the vector test res < √tol can pass.
    const gap =
      k > 1 && res < Math.sqrt(tol) ? value - bisectKth(d, e, k - 2, -bound - 1, bound + 1) : Number.POSITIVE_INFINITY
    return { value, res, gap, coeffs }
  }
  const EPS = Number.EPSILON
  const eps1 = Math.sqrt(n) * EPS * 0.5
  let omegaPrev = new Float64Array(kmax + 2)
  let omegaCur = new Float64Array(kmax + 2)
  let omegaNext = new Float64Array(kmax + 2)
  omegaCur[0] = 1
  let forceNext = false
  let k = 0
  for (; k < kmax; k++) {
    const q = Q[k]!
    const a = op(q, w) // returns qᵀ·(op q)
    alpha[k] = a
    const bPrev = k > 0 ? beta[k - 1]! : 0
    const qPrev = k > 0 ? Q[k - 1]! : q
    // w ← w − α q − β q_prev, with ‖w‖² and the component dd along the deflated vector, in one
    // pass. With a single deflated unit vector d0 the projection is deferred: ‖w − dd·d0‖² =
    // ‖w‖² − dd², and w − dd·d0 is formed while writing the next basis vector (or by `orth`).
    let dd = 0
    let nn = 0
    if (d0) {
      for (let i = 0; i < n; i++) {
        const v = w[i]! - a * q[i]! - bPrev * qPrev[i]!
        w[i] = v
        dd += v * d0[i]!
        nn += v * v
      }
      if (deflate.length > 1) {
        axpy(-dd, d0, w)
        dd = 0
        for (let j = 1; j < deflate.length; j++) axpy(-dot(deflate[j]!, w), deflate[j]!, w)
        nn = dot(w, w)
      } else nn = Math.max(0, nn - dd * dd)
    } else {
      for (let i = 0; i < n; i++) {
        const v = w[i]! - a * q[i]! - bPrev * qPrev[i]!
        w[i] = v
        nn += v * v
      }
    }
    let b = Math.sqrt(nn)
    if (partial) {
      // ω_{k+1,i} for i ≤ k from ω_{k,·} and ω_{k−1,·}.
      let worst = 0
      if (b > 0) {
        for (let i = 0; i < k; i++) {
          let v = beta[i]! * omegaCur[i + 1]! + (alpha[i]! - a) * omegaCur[i]! - bPrev * omegaPrev[i]!
          if (i > 0) v += beta[i - 1]! * omegaCur[i - 1]!
          v /= b
          v += v >= 0 ? eps1 : -eps1
          omegaNext[i] = v
          if (Math.abs(v) > worst) worst = Math.abs(v)
        }
        omegaNext[k] = eps1
      }
      if (forceNext || worst > Math.sqrt(EPS)) {
        orth(w, Q) // also projects out `deflate`
        dd = 0
        b = Math.sqrt(dot(w, w))
        for (let i = 0; i <= k; i++) omegaNext[i] = eps1
        // The step after a re-orthogonalisation is re-orthogonalised too (Simon's rule).
        forceNext = !forceNext
      }
      omegaNext[k + 1] = 1
      ;[omegaPrev, omegaCur, omegaNext] = [omegaCur, omegaNext, omegaPrev]
    } else {
      orth(w, Q)
      dd = 0
      b = Math.sqrt(dot(w, w))
    }
    beta[k] = b
    const done = b < 1e-13 || k + 1 === kmax
    const r = ritz(k + 1)
    best = { value: r.value, k: k + 1 }
    // Stop when the eigenvalue error bound min(res, res²/gap) (Parlett, "The Symmetric
    // Eigenvalue Problem", Thm 11.7.1) is below tol, and the vector is reasonable (res < √tol).
    const bound = Math.min(r.res, (r.res * r.res) / Math.max(r.gap, 1e-300))
    if (done || (bound < tol * Math.max(1, Math.abs(r.value)) && r.res < Math.sqrt(tol))) {
      k++
      break
    }
    const next = basisVector(Q.length)
    const inv = 1 / b
    if (dd !== 0 && d0) for (let i = 0; i < n; i++) next[i] = (w[i]! - dd * d0[i]!) * inv
    else for (let i = 0; i < n; i++) next[i] = w[i]! * inv
    Q.push(next)
  }
  const coeffs = best.k <= RITZ_DENSE_MAX ? denseTopRitzVector(alpha, beta, best.k) : ritz(best.k).coeffs
  const vector = new Float64Array(n)
  multiAxpy(
    Q,
    best.k,
    Float64Array.from(coeffs, (c) => -c),
    vector,
  )
  normalize(vector)
  return { value: best.value, vector, iterations: k }
}

/** Krylov vectors per allocation in {@link lanczosLargest}. */
const LANCZOS_BLOCK = 32

/** Top eigenvector of the k × k tridiagonal (alpha, beta) by ml-matrix's symmetric QL. */
function denseTopRitzVector(alpha: Float64Array, beta: Float64Array, k: number): number[] {
  const T = new Matrix(k, k)
  for (let i = 0; i < k; i++) {
    T.set(i, i, alpha[i]!)
    if (i + 1 < k) {
      T.set(i, i + 1, beta[i]!)
      T.set(i + 1, i, beta[i]!)
    }
  }
  const evd = new EigenvalueDecomposition(T, { assumeSymmetric: true })
  const vals = evd.realEigenvalues
  let idx = 0
  for (let i = 1; i < k; i++) if (vals[i]! > vals[idx]!) idx = i
  return evd.eigenvectorMatrix.getColumn(idx)
}

/** out[j] = V[j]ᵀ·x for j < count, four basis vectors per sweep over x (independent sums). */
function multiDot(V: Float64Array[], count: number, x: Float64Array, out: Float64Array): void {
  const n = x.length
  let j = 0
  for (; j + 4 <= count; j += 4) {
    const a = V[j]!
    const b = V[j + 1]!
    const c = V[j + 2]!
    const d = V[j + 3]!
    let s0 = 0
    let s1 = 0
    let s2 = 0
    let s3 = 0
    for (let i = 0; i < n; i++) {
      const xi = x[i]!
      s0 += a[i]! * xi
      s1 += b[i]! * xi
      s2 += c[i]! * xi
      s3 += d[i]! * xi
    }
    out[j] = s0
    out[j + 1] = s1
    out[j + 2] = s2
    out[j + 3] = s3
  }
  for (; j < count; j++) out[j] = dot(V[j]!, x)
}

/** x ← x − Σ_{j<count} h[j]·V[j], four basis vectors per sweep over x. */
function multiAxpy(V: Float64Array[], count: number, h: Float64Array, x: Float64Array): void {
  const n = x.length
  let j = 0
  for (; j + 4 <= count; j += 4) {
    const a = V[j]!
    const b = V[j + 1]!
    const c = V[j + 2]!
    const d = V[j + 3]!
    const ha = h[j]!
    const hb = h[j + 1]!
    const hc = h[j + 2]!
    const hd = h[j + 3]!
    for (let i = 0; i < n; i++) x[i] = x[i]! - (ha * a[i]! + hb * b[i]! + hc * c[i]! + hd * d[i]!)
  }
  for (; j < count; j++) axpy(-h[j]!, V[j]!, x)
}

/**
 * Thick-restart Lanczos (Wu & Simon, "Thick-restart Lanczos method for large symmetric eigenvalue
 * problems", SIAM J. Matrix Anal. Appl. 22, 2000) for the largest eigenpair of a symmetric operator
 * on the orthogonal complement of `deflate`. The basis is bounded by `ncv` vectors (ARPACK-like):
 * when it is full, the top `keep` Ritz vectors and the residual direction are kept and the
 * projected matrix becomes arrowhead + tridiagonal. Every new vector is fully re-orthogonalised
 * against the bounded basis (and `deflate`) by classical Gram–Schmidt applied twice ("twice is
 * enough", Giraud, Langou & Rozložník 2005), in cache-sized row blocks. The Ritz problem (at most
 * ncv × ncv) is solved with ml-matrix. Stop: the Ritz residual r = |β_j·s_j| gives the eigenvalue
 * error bound min(r, r²/gap) (Parlett, "The Symmetric Eigenvalue Problem", Thm 11.7.1), which must
 * be below tol·max(1, |θ|), with r < √tol for the vector.
 */
function thickRestartLanczosLargest(
  op: (x: Float64Array, y: Float64Array) => number,
  n: number,
  deflate: Float64Array[],
  tol: number,
  maxIterations: number,
  seed: number,
  ncvWanted: number,
): { value: number; vector: Float64Array; iterations: number; restarts: number } {
  const dim = n - deflate.length
  const ncv = Math.max(2, Math.min(ncvWanted, dim))
  const keep = Math.max(1, Math.min(ncv - 2, Math.floor(ncv / 2)))
  // ncv + 1 basis vectors plus `keep` scratch vectors for the restart, all preallocated.
  const poolBuffer = new Float64Array((ncv + 1 + keep) * n)
  const pool: Float64Array[] = Array.from({ length: ncv + 1 + keep }, (_, j) => poolBuffer.subarray(j * n, (j + 1) * n))
  const V: Float64Array[] = pool.slice(0, ncv + 1)
  let scratch: Float64Array[] = pool.slice(ncv + 1)
  const all: Float64Array[] = new Array(deflate.length + ncv + 1)
  for (let j = 0; j < deflate.length; j++) all[j] = deflate[j]!
  const h1 = new Float64Array(deflate.length + ncv + 1)
  const h2 = new Float64Array(deflate.length + ncv + 1)
  const w = new Float64Array(n)
  const T = new Float64Array(ncv * ncv)
  // Start vector from the seed, orthogonal to `deflate`.
  const rng = new PythonRandom(seed)
  const v0 = V[0]!
  for (let i = 0; i < n; i++) v0[i] = rng.random() - 0.5
  const orth = (x: Float64Array, count: number): void => cgs2(x, all, count, h1, h2)
  for (let j = 0; j < ncv + 1; j++) all[deflate.length + j] = V[j]!
  orth(v0, deflate.length)
  normalize(v0)
  let size = 0 // vectors in the basis V[0..size-1]
  let locked = 0 // leading arrow part after a restart
  let iterations = 0
  let restarts = 0
  let bestValue = 0
  let bestCoeffs = new Float64Array([1])
  let bestSize = 1
  let betaLast = 0
  const solve = (k: number): { vals: Float64Array; vecs: Float64Array } => {
    const m = new Matrix(k, k)
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) m.set(i, j, T[i * ncv + j]!)
    const evd = new EigenvalueDecomposition(m, { assumeSymmetric: true })
    const raw = evd.realEigenvalues
    const order = raw.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1])
    const vals = new Float64Array(k)
    const vecs = new Float64Array(k * k) // column c (descending) at vecs[r * k + c]
    const E = evd.eigenvectorMatrix
    for (let c = 0; c < k; c++) {
      vals[c] = order[c]![0]
      const src = order[c]![1]
      for (let r = 0; r < k; r++) vecs[r * k + c] = E.get(r, src)
    }
    return { vals, vecs }
  }
  for (;;) {
    // Expand the basis from `size` to ncv (or stop early).
    let stop = false
    while (size < ncv) {
      const j = size
      const q = V[j]!
      op(q, w)
      iterations++
      orth(w, deflate.length + j + 1)
      T[j * ncv + j] = h1[deflate.length + j]! + h2[deflate.length + j]!
      const b = Math.sqrt(dot(w, w))
      betaLast = b
      size = j + 1
      const full = size === ncv
      const breakdown = b < 1e-13
      const capped = iterations >= maxIterations || size === dim
      if (full || breakdown || capped || (size - locked) % 4 === 0) {
        const { vals, vecs } = solve(size)
        const value = vals[0]!
        const gap = size > 1 ? value - vals[1]! : Number.POSITIVE_INFINITY
        const res = Math.abs(b * vecs[(size - 1) * size]!)
        bestValue = value
        bestSize = size
        bestCoeffs = new Float64Array(size)
        for (let r = 0; r < size; r++) bestCoeffs[r] = vecs[r * size]!
        const bound = Math.min(res, (res * res) / Math.max(gap, 1e-300))
        const converged = bound < tol * Math.max(1, Math.abs(value)) && res < Math.sqrt(tol)
        if (converged || breakdown || capped) {
          stop = true
          break
        }
        if (full) {
          // Thick restart: keep the top `keep` Ritz vectors and the residual direction.
          const k = keep
          ritzCombine(V, vecs, size, k, scratch, n)
          const resid = V[size]!
          for (let i = 0; i < n; i++) resid[i] = w[i]! / b
          // Rotate the views (no copies): the Ritz vectors become V[0..k-1], the residual V[k],
          // and the old basis vectors are reused as free slots and as the next scratch.
          const rotated = [...scratch, resid, ...V.slice(0, size)]
          for (let jj = 0; jj < ncv + 1; jj++) V[jj] = rotated[jj]!
          scratch = rotated.slice(ncv + 1)
          for (let jj = 0; jj < ncv + 1; jj++) all[deflate.length + jj] = V[jj]!
          T.fill(0)
          for (let i = 0; i < k; i++) {
            T[i * ncv + i] = vals[i]!
            const c = b * vecs[(size - 1) * size + i]!
            T[k * ncv + i] = c
            T[i * ncv + k] = c
          }
          // V[k] is the next vector to expand; its arrow row is set above.
          size = k
          locked = k
          restarts++
          break
        }
      }
      const next = V[size]!
      for (let i = 0; i < n; i++) next[i] = w[i]! / b
      T[(j + 1) * ncv + j] = b
      T[j * ncv + j + 1] = b
    }
    if (stop) break
  }
  const vector = new Float64Array(n)
  for (let r = 0; r < bestSize; r++) axpy(bestCoeffs[r]!, V[r]!, vector)
  normalize(vector)
  void betaLast
  return { value: bestValue, vector, iterations, restarts }
}

/** Rows per block of the restart kernel (keeps a block of the basis in cache). */
const BLOCK = 1024

/**
 * x ← (I − QQᵀ)²x for the first `count` vectors Q of `basis` (classical Gram–Schmidt twice);
 * h1, h2 receive the coefficients of the two passes.
 */
function cgs2(x: Float64Array, basis: Float64Array[], count: number, h1: Float64Array, h2: Float64Array): void {
  multiDot(basis, count, x, h1)
  multiAxpy(basis, count, h1, x)
  multiDot(basis, count, x, h2)
  multiAxpy(basis, count, h2, x)
}

/** out[c] = Σ_r S[r, c]·V[r] for c < k (S row-major with `size` columns), in row blocks. */
function ritzCombine(
  V: Float64Array[],
  S: Float64Array,
  size: number,
  k: number,
  out: Float64Array[],
  n: number,
): void {
  for (let c = 0; c < k; c++) out[c]!.fill(0)
  for (let i0 = 0; i0 < n; i0 += BLOCK) {
    const i1 = Math.min(n, i0 + BLOCK)
    for (let c = 0; c < k; c++) {
      const y = out[c]!
      for (let r = 0; r < size; r++) {
        const s = S[r * size + c]!
        const q = V[r]!
        for (let i = i0; i < i1; i++) y[i]! += s * q[i]!
      }
    }
  }
}

/** The final Ritz vector of a T_k up to this size comes from ml-matrix; larger ones from inverse iteration. */
const RITZ_DENSE_MAX = 64

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
