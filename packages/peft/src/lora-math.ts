/**
 * LoRA factor arithmetic (spec core.md §11.1, §11.3).
 *
 * An adapter module contributes `ΔW = s · B · A` with `B ∈ ℝ^{out×r}`, `A ∈ ℝ^{r×in}` (PEFT,
 * Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models"). Merge arithmetic is kept
 * in factor form: `Σ_i c_i ΔW_i = [c_1 s_1 B_1 | … | c_n s_n B_n] · [A_1; …; A_n]`, so a weighted
 * sum is a concatenation, a scalar factor touches only `B`, and the Frobenius norm needs only the
 * two `R×R` Gram matrices: `‖B A‖²_F = tr((BᵀB)(AAᵀ))`. All merge maths runs in float64 (the
 * original did dense fp16 diffs on CUDA `[D-26]`).
 *
 * Re-projection to rank k (§11.3 "TS"): thin QR of the stacked factors, `B = Q_B R_B` and
 * `Aᵀ = Q_A R_A`, so `ΔW = Q_B (R_B R_Aᵀ) Q_Aᵀ`; the SVD of the small `R×R` core
 * `R_B R_Aᵀ = U Σ Vᵀ` gives the SVD of ΔW as `(Q_B U) Σ (Q_A V)ᵀ` (Golub & Van Loan, "Matrix
 * Computations", §5.4 / §8.6), and the Eckart–Young optimum of rank k is its first k triplets.
 * No dense `out×in` SVD is ever formed; cost is `O((out+in)·R²)`.
 */
import { EigenvalueDecomposition, Matrix, SingularValueDecomposition } from 'ml-matrix'

/** One LoRA pair of an adapter, in PEFT's logical orientation. */
export interface LoraModule {
  /** Dotted module path (`transformer.h.0.attn.c_attn`). */
  path: string
  rank: number
  inFeatures: number
  outFeatures: number
  /** `lora_A.weight`, `[rank, inFeatures]` row-major. */
  a: Float32Array
  /** `lora_B.weight`, `[outFeatures, rank]` row-major. */
  b: Float32Array
  /** PEFT scaling `s` (`alpha/r` or `alpha/sqrt(r)`). */
  scale: number
}

/**
 * A low-rank weight delta `ΔW = b · a` (any scaling folded into `b`), float64, logical
 * orientation `[out, in]`.
 */
export interface FactoredDelta {
  path: string
  rank: number
  inFeatures: number
  outFeatures: number
  /** `[rank, inFeatures]` row-major. */
  a: Float64Array
  /** `[outFeatures, rank]` row-major. */
  b: Float64Array
}

/** The delta `coeff · s · B · A` of one adapter module, as float64 factors. */
export function factoredDeltaOf(module: LoraModule, coeff = 1): FactoredDelta {
  const c = coeff * module.scale
  const b = new Float64Array(module.b.length)
  for (let i = 0; i < b.length; i++) b[i] = module.b[i]! * c
  return {
    path: module.path,
    rank: module.rank,
    inFeatures: module.inFeatures,
    outFeatures: module.outFeatures,
    a: Float64Array.from(module.a),
    b,
  }
}

/**
 * The sum of deltas of one module as one factored delta: `[b_1 | b_2 | …] · [a_1; a_2; …]`.
 * All inputs must share the module's dimensions.
 */
export function stackDeltas(deltas: readonly FactoredDelta[]): FactoredDelta {
  const first = deltas[0]
  if (first === undefined) throw new RangeError('stackDeltas needs at least one delta')
  const { inFeatures: n, outFeatures: m } = first
  const rank = deltas.reduce((acc, d) => acc + d.rank, 0)
  const a = new Float64Array(rank * n)
  const b = new Float64Array(m * rank)
  let offset = 0
  for (const d of deltas) {
    if (d.inFeatures !== n || d.outFeatures !== m) {
      throw new RangeError(`stackDeltas: ${d.path} is ${d.outFeatures}×${d.inFeatures}, expected ${m}×${n}`)
    }
    // Rows of a are contiguous; columns of b are interleaved per row.
    a.set(d.a, offset * n)
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < d.rank; j++) b[i * rank + offset + j] = d.b[i * d.rank + j]!
    }
    offset += d.rank
  }
  return { path: first.path, rank, inFeatures: n, outFeatures: m, a, b }
}

/** Multiplies a delta by a scalar in place (only `b` changes) and returns it. */
export function scaleDeltaInPlace(delta: FactoredDelta, factor: number): FactoredDelta {
  for (let i = 0; i < delta.b.length; i++) delta.b[i]! *= factor
  return delta
}

/** `‖b · a‖²_F = tr((bᵀb)(a aᵀ))`, computed from the two `R×R` Gram matrices in float64. */
export function deltaFrobeniusSquared(delta: FactoredDelta): number {
  const { rank: r, inFeatures: n, outFeatures: m, a, b } = delta
  // Upper triangles only (both Grams are symmetric): tr(G_B G_A) = Σ_p G_B[p,p] G_A[p,p] + 2 Σ_{p<q} G_B[p,q] G_A[p,q].
  const gb = new Float64Array(r * r)
  for (let i = 0; i < m; i++) {
    const row = i * r
    for (let p = 0; p < r; p++) {
      const bp = b[row + p]!
      if (bp === 0) continue
      const gp = p * r
      for (let q = p; q < r; q++) gb[gp + q]! += bp * b[row + q]!
    }
  }
  let total = 0
  for (let p = 0; p < r; p++) {
    const pa = p * n
    for (let q = p; q < r; q++) {
      const g = gb[p * r + q]!
      if (g === 0) continue
      let s = 0
      const qa = q * n
      for (let k = 0; k < n; k++) s += a[pa + k]! * a[qa + k]!
      total += p === q ? g * s : 2 * g * s
    }
  }
  return Math.max(0, total)
}

/**
 * ‖s·B·A‖_F of one adapter module in float64, by the cheaper of the Gram form (O(r²·(in+out)))
 * and the dense product (O(r·in·out)). Non-finite inputs give a non-finite result.
 */
export function updateFrobenius(module: LoraModule): number {
  let na = 0
  for (let i = 0; i < module.a.length; i++) na += module.a[i]! * module.a[i]!
  let nb = 0
  for (let i = 0; i < module.b.length; i++) nb += module.b[i]! * module.b[i]!
  const bound = Math.abs(module.scale) * Math.sqrt(na) * Math.sqrt(nb)
  if (!Number.isFinite(bound) || bound === 0) return bound
  return exactUpdateFrobenius(module)
}

/** ‖s·B·A‖_F exactly (float64), choosing the cheaper evaluation; see {@link updateFrobenius}. */
function exactUpdateFrobenius(module: LoraModule): number {
  const { rank: r, inFeatures: n, outFeatures: m } = module
  const delta = factoredDeltaOf(module)
  if (r * (m + n) * r <= r * m * n) return Math.sqrt(deltaFrobeniusSquared(delta))
  const dense = denseDelta(delta)
  let s = 0
  for (let i = 0; i < dense.length; i++) s += dense[i]! * dense[i]!
  return Math.sqrt(s)
}

/** The dense `[out, in]` matrix `b · a` (float64). For tests, small shapes and merged-model output. */
export function denseDelta(delta: FactoredDelta): Float64Array {
  const { rank: r, inFeatures: n, outFeatures: m, a, b } = delta
  const out = new Float64Array(m * n)
  for (let i = 0; i < m; i++) {
    const row = i * n
    for (let p = 0; p < r; p++) {
      const bp = b[i * r + p]!
      if (bp === 0) continue
      const pa = p * n
      for (let k = 0; k < n; k++) out[row + k]! += bp * a[pa + k]!
    }
  }
  return out
}

function toMatrix(data: Float64Array, rows: number, cols: number): Matrix {
  const m = new Matrix(rows, cols)
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) m.set(i, j, data[i * cols + j]!)
  return m
}

/** `[rows, cols]` row-major float64 of a matrix. */
function fromMatrix(m: Matrix): Float64Array {
  const out = new Float64Array(m.rows * m.columns)
  for (let i = 0; i < m.rows; i++) for (let j = 0; j < m.columns; j++) out[i * m.columns + j] = m.get(i, j)
  return out
}

/**
 * The thin SVD of a factored delta: `ΔW = U diag(S) Vᵀ`, `U: [out, p]`, `V: [in, p]`, S descending
 * (the leading `p` triplets when a maximum is requested).
 */
export interface DeltaSvd {
  u: Float64Array
  s: Float64Array
  v: Float64Array
  /** Number of triplets `p`. */
  count: number
}

/**
 * Householder QR of a tall `m×n` matrix (`m ≥ n`, row-major input), returning the reflectors and
 * `R`. Written here rather than taken from ml-matrix: its QR goes through per-element accessors
 * and measured ~60 ms for the 2304×24 stacked factor of benchmark (c); this column-major version
 * takes a few ms. Zero columns get no reflector (`R[k,k] = 0`), so rank-deficient stacks work.
 */
function householderQr(x: Float64Array, m: number, n: number): { vs: Float64Array[]; r: Float64Array } {
  const cols: Float64Array[] = []
  for (let j = 0; j < n; j++) {
    const c = new Float64Array(m)
    for (let i = 0; i < m; i++) c[i] = x[i * n + j]!
    cols.push(c)
  }
  const vs: Float64Array[] = []
  const r = new Float64Array(n * n)
  for (let k = 0; k < n; k++) {
    const ck = cols[k]!
    let norm = 0
    for (let i = k; i < m; i++) norm += ck[i]! * ck[i]!
    norm = Math.sqrt(norm)
    const v = new Float64Array(m)
    if (norm > 0) {
      const alpha = ck[k]! >= 0 ? -norm : norm
      for (let i = k; i < m; i++) v[i] = ck[i]!
      v[k] = v[k]! - alpha
      let vn = 0
      for (let i = k; i < m; i++) vn += v[i]! * v[i]!
      vn = Math.sqrt(vn)
      if (vn > 0) for (let i = k; i < m; i++) v[i] = v[i]! / vn
      // H = I − 2vvᵀ on the remaining columns.
      for (let j = k; j < n; j++) {
        const cj = cols[j]!
        let s = 0
        for (let i = k; i < m; i++) s += v[i]! * cj[i]!
        s *= 2
        if (s !== 0) for (let i = k; i < m; i++) cj[i] = cj[i]! - s * v[i]!
      }
    }
    vs.push(v)
    for (let j = k; j < n; j++) r[k * n + j] = cols[j]![k]!
  }
  return { vs, r }
}

/** `Q · Y` for the thin Q of {@link householderQr} and a row-major `n×p` matrix `Y`: `m×p` row-major. */
function applyQ(vs: readonly Float64Array[], m: number, y: Float64Array, n: number, p: number): Float64Array {
  // Q = H_0 H_1 … H_{n−1} applied to [Y; 0]: reflectors in reverse order, column by column.
  const out = new Float64Array(m * p)
  const col = new Float64Array(m)
  for (let t = 0; t < p; t++) {
    col.fill(0)
    for (let i = 0; i < n; i++) col[i] = y[i * p + t]!
    for (let k = vs.length - 1; k >= 0; k--) {
      const v = vs[k]!
      let s = 0
      for (let i = k; i < m; i++) s += v[i]! * col[i]!
      s *= 2
      if (s !== 0) for (let i = k; i < m; i++) col[i] = col[i]! - s * v[i]!
    }
    for (let i = 0; i < m; i++) out[i * p + t] = col[i]!
  }
  return out
}

function transposeRowMajor(x: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols)
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = x[i * cols + j]!
  return out
}

/**
 * The thin SVD of `b · a` through QR of the factors and the SVD of the small core, optionally only
 * its leading `maxTriplets` triplets. When the
 * stacked rank is not smaller than both dimensions the factor form saves nothing, so the dense
 * (then small) matrix is decomposed directly.
 */
export function factoredSvd(delta: FactoredDelta, maxTriplets = Number.POSITIVE_INFINITY): DeltaSvd {
  const { rank: r, inFeatures: n, outFeatures: m } = delta
  if (r >= m || r >= n) {
    const dense = toMatrix(denseDelta(delta), m, n)
    const svd = new SingularValueDecomposition(dense, { autoTranspose: true })
    const p = Math.min(m, n, maxTriplets)
    const U = svd.leftSingularVectors.subMatrix(0, m - 1, 0, p - 1)
    const V = svd.rightSingularVectors.subMatrix(0, n - 1, 0, p - 1)
    return { u: fromMatrix(U), s: Float64Array.from(svd.diagonal.slice(0, p)), v: fromMatrix(V), count: p }
  }
  const qrB = householderQr(delta.b, m, r)
  const qrA = householderQr(transposeRowMajor(delta.a, r, n), n, r)
  // core = R_B · R_Aᵀ (r×r)
  const core = new Matrix(r, r)
  for (let i = 0; i < r; i++) {
    for (let j = 0; j < r; j++) {
      let s = 0
      for (let t = Math.max(i, j); t < r; t++) s += qrB.r[i * r + t]! * qrA.r[j * r + t]!
      core.set(i, j, s)
    }
  }
  const svd = new SingularValueDecomposition(core)
  // Only the leading `p` singular vectors are lifted back through Q (re-projection needs k of them).
  const p = Math.min(r, maxTriplets)
  const U = svd.leftSingularVectors.subMatrix(0, r - 1, 0, p - 1)
  const V = svd.rightSingularVectors.subMatrix(0, r - 1, 0, p - 1)
  const u = applyQ(qrB.vs, m, fromMatrix(U), r, p)
  const v = applyQ(qrA.vs, n, fromMatrix(V), r, p)
  return { u, s: Float64Array.from(svd.diagonal.slice(0, p)), v, count: p }
}

/**
 * The best rank-`k` approximation of a factored delta (Eckart–Young), as factors of rank exactly
 * `k`: `b' = U_k √Σ_k`, `a' = √Σ_k V_kᵀ`. Triplets beyond the delta's own rank are zero columns,
 * so every module of a re-projected adapter shares PEFT's single `r = k`.
 */
export function reprojectDelta(delta: FactoredDelta, k: number): FactoredDelta {
  if (!Number.isInteger(k) || k <= 0) throw new RangeError(`re-projection rank must be a positive integer, got ${k}`)
  const { inFeatures: n, outFeatures: m } = delta
  const svd = factoredSvd(delta, k)
  const keep = Math.min(k, svd.count)
  const a = new Float64Array(k * n)
  const b = new Float64Array(m * k)
  for (let t = 0; t < keep; t++) {
    const root = Math.sqrt(Math.max(0, svd.s[t]!))
    for (let i = 0; i < m; i++) b[i * k + t] = svd.u[i * svd.count + t]! * root
    for (let j = 0; j < n; j++) a[t * n + j] = svd.v[j * svd.count + t]! * root
  }
  return { path: delta.path, rank: k, inFeatures: n, outFeatures: m, a, b }
}

/**
 * A dense `[out, in]` row-major float64 matrix as an exact factored delta of rank `min(out, in)`
 * (the dense matrix on the long side, an identity on the short one), so dense merge results
 * (TIES, DARE, magnitude pruning) flow through the same factor pipeline and re-projection.
 */
export function factoredFromDense(
  path: string,
  dense: Float64Array,
  outFeatures: number,
  inFeatures: number,
): FactoredDelta {
  const m = outFeatures
  const n = inFeatures
  if (dense.length !== m * n)
    throw new RangeError(`factoredFromDense: ${path} has ${dense.length} values, expected ${m}×${n}`)
  if (n <= m) {
    // ΔW = ΔW · I_n: b = ΔW [m×n], a = I_n.
    const a = new Float64Array(n * n)
    for (let i = 0; i < n; i++) a[i * n + i] = 1
    return { path, rank: n, inFeatures: n, outFeatures: m, a, b: Float64Array.from(dense) }
  }
  // ΔW = I_m · ΔW: b = I_m, a = ΔW [m×n].
  const b = new Float64Array(m * m)
  for (let i = 0; i < m; i++) b[i * m + i] = 1
  return { path, rank: m, inFeatures: n, outFeatures: m, a: Float64Array.from(dense), b }
}

/** A rank-k re-projection and how much it lost. */
export interface Reprojection {
  delta: FactoredDelta
  /** `‖ΔW‖_F` before truncation (`√Σ σ_i²`). */
  norm: number
  /** `‖ΔW − ΔW_k‖_F = √Σ_{i>k} σ_i²` (absolute; divide by `norm` for the relative error). */
  error: number
}

/**
 * {@link reprojectDelta} plus the truncation error `‖ΔW − ΔW_k‖_F`, from one SVD: by
 * Eckart–Young the error is the root sum of squares of the discarded singular values, which is
 * accurate to rounding of the largest one (an exact re-projection reports 0, not √ε·‖ΔW‖ as
 * `√(‖ΔW‖² − ‖ΔW_k‖²)` would).
 */
export function reprojectDeltaWithError(delta: FactoredDelta, k: number): Reprojection {
  if (!Number.isInteger(k) || k <= 0) throw new RangeError(`re-projection rank must be a positive integer, got ${k}`)
  const { inFeatures: n, outFeatures: m, rank: r } = delta
  if ((r >= m || r >= n) && Math.min(m, n) > EXACT_DENSE_SVD_MAX) return reprojectLargeDense(delta, k)
  const svd = factoredSvd(delta)
  const keep = Math.min(k, svd.count)
  const a = new Float64Array(k * n)
  const b = new Float64Array(m * k)
  for (let t = 0; t < keep; t++) {
    const root = Math.sqrt(Math.max(0, svd.s[t]!))
    for (let i = 0; i < m; i++) b[i * k + t] = svd.u[i * svd.count + t]! * root
    for (let j = 0; j < n; j++) a[t * n + j] = svd.v[j * svd.count + t]! * root
  }
  let total = 0
  let tail = 0
  for (let t = 0; t < svd.count; t++) {
    const sq = svd.s[t]! * svd.s[t]!
    total += sq
    if (t >= keep) tail += sq
  }
  return {
    delta: { path: delta.path, rank: k, inFeatures: n, outFeatures: m, a, b },
    norm: Math.sqrt(total),
    error: Math.sqrt(tail),
  }
}

/**
 * Above this short side, a full-rank (dense) delta is re-projected through the eigenvectors of its
 * small Gram matrix ({@link reprojectLargeDense}) instead of ml-matrix's dense SVD, which measured
 * 37 s for 2304×768 (the Gram route: a few seconds).
 */
export const EXACT_DENSE_SVD_MAX = 256

/**
 * Rank-k re-projection of a full-rank delta via the symmetric eigendecomposition of the Gram
 * matrix on its short side (`XᵀX` or `XXᵀ`): the top-k singular triplets are `σ_t = √λ_t` with
 * the eigenvectors and `U = XV/σ` (or `V = XᵀU/σ`). Squaring the matrix costs accuracy only in the
 * small singular values (absolute error ≈ ε·σ_max²/σ), not in the leading ones kept here; the
 * error is `√max(0, ‖X‖²_F − Σ_{t<k} σ_t²)`, accurate to about √ε·‖X‖_F. Exported for tests.
 */
export function reprojectLargeDense(delta: FactoredDelta, k: number): Reprojection {
  const { inFeatures: n, outFeatures: m } = delta
  const x = denseDelta(delta)
  const wide = n > m
  // Work on the short side p: G = XᵀX (p = n) or XXᵀ (p = m).
  const p = wide ? m : n
  const g = new Float64Array(p * p)
  if (!wide) {
    for (let i = 0; i < m; i++) {
      const row = i * n
      for (let a = 0; a < n; a++) {
        const xa = x[row + a]!
        if (xa === 0) continue
        const ga = a * n
        for (let b = a; b < n; b++) g[ga + b]! += xa * x[row + b]!
      }
    }
  } else {
    for (let a = 0; a < m; a++) {
      const ra = a * n
      for (let b = a; b < m; b++) {
        const rb = b * n
        let s = 0
        for (let j = 0; j < n; j++) s += x[ra + j]! * x[rb + j]!
        g[a * m + b] = s
      }
    }
  }
  let total = 0
  const gm = new Matrix(p, p)
  for (let a = 0; a < p; a++) {
    total += g[a * p + a]!
    for (let b = a; b < p; b++) {
      gm.set(a, b, g[a * p + b]!)
      gm.set(b, a, g[a * p + b]!)
    }
  }
  const evd = new EigenvalueDecomposition(gm, { assumeSymmetric: true })
  const values = evd.realEigenvalues
  const vectors = evd.eigenvectorMatrix
  const order = values.map((_, i) => i).sort((i, j) => values[j]! - values[i]!)
  const keep = Math.min(k, p)
  const a = new Float64Array(k * n)
  const b = new Float64Array(m * k)
  let kept = 0
  for (let t = 0; t < keep; t++) {
    const col = order[t]!
    const lambda = Math.max(0, values[col]!)
    const sigma = Math.sqrt(lambda)
    if (!(sigma > 0)) continue
    kept += lambda
    const root = Math.sqrt(sigma)
    if (!wide) {
      // v = eigenvector (n), u = X v / σ (m).
      for (let j = 0; j < n; j++) a[t * n + j] = vectors.get(j, col) * root
      for (let i = 0; i < m; i++) {
        let s = 0
        for (let j = 0; j < n; j++) s += x[i * n + j]! * vectors.get(j, col)
        b[i * k + t] = (s / sigma) * root
      }
    } else {
      // u = eigenvector (m), v = Xᵀ u / σ (n).
      for (let i = 0; i < m; i++) b[i * k + t] = vectors.get(i, col) * root
      for (let j = 0; j < n; j++) {
        let s = 0
        for (let i = 0; i < m; i++) s += x[i * n + j]! * vectors.get(i, col)
        a[t * n + j] = (s / sigma) * root
      }
    }
  }
  return {
    delta: { path: delta.path, rank: k, inFeatures: n, outFeatures: m, a, b },
    norm: Math.sqrt(Math.max(0, total)),
    error: Math.sqrt(Math.max(0, total - kept)),
  }
}
