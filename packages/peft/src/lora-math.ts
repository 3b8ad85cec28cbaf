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
 * No dense `out×in` SVD is ever formed; cost is `O((out+in)·R²)`. Each factor's `R` comes from the
 * Cholesky factor of its `R×R` Gram matrix when that is well conditioned (then `Q = X·R⁻¹` is
 * applied, never formed), else from Householder QR (rank-deficient stacks: duplicated, cancelling
 * or untrained adapters); the core SVD is one-sided Jacobi. Only the `k` kept vectors are lifted
 * back (issue 21: `packages/loader/bench/inject-vs-torch.mjs` measures it, README of @plora/loader).
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
  // Columns of b made contiguous once, so every Gram entry is one unrolled dot product.
  const bt = r === 1 ? b : transposeRowMajor(b, m, r)
  let total = 0
  for (let p = 0; p < r; p++) {
    for (let q = p; q < r; q++) {
      const g = dot(bt, p * m, bt, q * m, m)
      if (g === 0) continue
      const s = dot(a, p * n, a, q * n, n)
      total += p === q ? g * s : 2 * g * s
    }
  }
  return Math.max(0, total)
}

/**
 * The two `R×R` Gram matrices of a factored delta, `G_B = bᵀb` and `G_A = a·aᵀ` (row-major, full).
 * They give the Frobenius norm ({@link frobeniusSquaredFromGrams}) and the re-projection's
 * triangular factors ({@link reprojectDeltaWithError}'s `grams`), so a caller doing both (the
 * merge planner) computes them once. Scaling `b` by `c` scales `gb` by `c²` ({@link scaleGramsInPlace}).
 */
export interface DeltaGrams {
  rank: number
  gb: Float64Array
  ga: Float64Array
}

/** {@link DeltaGrams} of a delta. */
export function deltaGrams(delta: FactoredDelta): DeltaGrams {
  const { rank: r, inFeatures: n, outFeatures: m } = delta
  return { rank: r, gb: gramOfColumns(transposeRowMajor(delta.b, m, r), m, r), ga: gramOfColumns(delta.a, n, r) }
}

/** `‖b · a‖²_F = tr(G_B G_A)` (both symmetric: the elementwise product summed). */
export function frobeniusSquaredFromGrams(grams: DeltaGrams): number {
  let total = 0
  for (let i = 0; i < grams.gb.length; i++) total += grams.gb[i]! * grams.ga[i]!
  return Math.max(0, total)
}

/** Keeps {@link DeltaGrams} in step with {@link scaleDeltaInPlace}`(delta, factor)`. */
export function scaleGramsInPlace(grams: DeltaGrams, factor: number): DeltaGrams {
  const f2 = factor * factor
  for (let i = 0; i < grams.gb.length; i++) grams.gb[i]! *= f2
  return grams
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

/** `Σ x[xo+i]·y[yo+i]` for `i < len`, four independent accumulators (the latency-bound part of QR). */
function dot(x: Float64Array, xo: number, y: Float64Array, yo: number, len: number): number {
  let s0 = 0
  let s1 = 0
  let s2 = 0
  let s3 = 0
  let i = 0
  for (; i + 3 < len; i += 4) {
    s0 += x[xo + i]! * y[yo + i]!
    s1 += x[xo + i + 1]! * y[yo + i + 1]!
    s2 += x[xo + i + 2]! * y[yo + i + 2]!
    s3 += x[xo + i + 3]! * y[yo + i + 3]!
  }
  for (; i < len; i++) s0 += x[xo + i]! * y[yo + i]!
  return s0 + s1 + (s2 + s3)
}

/** `y[yo+i] −= alpha·x[xo+i]` for `i < len`. */
function axpyNeg(alpha: number, x: Float64Array, xo: number, y: Float64Array, yo: number, len: number): void {
  for (let i = 0; i < len; i++) y[yo + i] = y[yo + i]! - alpha * x[xo + i]!
}

/**
 * Householder QR of a tall `m×n` matrix (`m ≥ n`) given column-major (`cols[j·m + i]`, overwritten),
 * returning the unit reflectors (column-major, `v_k` zero above row k) and the row-major `n×n` `R`.
 * Written here rather than taken from ml-matrix (per-element accessors: ~60 ms for the 2304×24
 * stacked factor of benchmark (c)); contiguous columns and unrolled dot products make it ~1 ms. Zero
 * columns get no reflector (`R[k,k] = 0`), so rank-deficient stacks work.
 */
function householderQr(cols: Float64Array, m: number, n: number): { vs: Float64Array; r: Float64Array } {
  const vs = new Float64Array(m * n)
  const r = new Float64Array(n * n)
  for (let k = 0; k < n; k++) {
    const ck = k * m
    const len = m - k
    const norm = Math.sqrt(dot(cols, ck + k, cols, ck + k, len))
    const vk = k * m
    if (norm > 0) {
      const x0 = cols[ck + k]!
      const alpha = x0 >= 0 ? -norm : norm
      // ‖x − αe₁‖² = ‖x‖² − 2αx₀ + α² = 2(norm² − αx₀) (no cancellation: α has x₀'s opposite sign).
      const vn = Math.sqrt(2 * (norm * norm - alpha * x0))
      if (vn > 0) {
        const inv = 1 / vn
        vs[vk + k] = (x0 - alpha) * inv
        for (let i = k + 1; i < m; i++) vs[vk + i] = cols[ck + i]! * inv
        // H = I − 2vvᵀ: column k becomes αe₁; the remaining columns are reflected.
        cols[ck + k] = alpha
        for (let i = k + 1; i < m; i++) cols[ck + i] = 0
        for (let j = k + 1; j < n; j++) {
          const cj = j * m
          const sj = 2 * dot(vs, vk + k, cols, cj + k, len)
          if (sj !== 0) axpyNeg(sj, vs, vk + k, cols, cj + k, len)
        }
      }
    }
    for (let j = k; j < n; j++) r[k * n + j] = cols[j * m + k]!
  }
  return { vs, r }
}

/** `Q · Y` for the thin Q of {@link householderQr} and a row-major `n×p` matrix `Y`: `m×p` row-major. */
function applyQ(vs: Float64Array, m: number, y: Float64Array, n: number, p: number): Float64Array {
  // Q = H_0 H_1 … H_{n−1} applied to [Y; 0]: reflectors in reverse order, one column of Y at a time.
  const out = new Float64Array(m * p)
  const col = new Float64Array(m)
  for (let t = 0; t < p; t++) {
    col.fill(0)
    for (let i = 0; i < n; i++) col[i] = y[i * p + t]!
    for (let k = n - 1; k >= 0; k--) {
      const vk = k * m
      if (vs[vk + k] === 0) continue // no reflector (zero column)
      const s = 2 * dot(vs, vk + k, col, k, m - k)
      if (s !== 0) axpyNeg(s, vs, vk + k, col, k, m - k)
    }
    for (let i = 0; i < m; i++) out[i * p + t] = col[i]!
  }
  return out
}

/** Row-major `rows×cols` → column-major (the transpose, row-major `cols×rows`). */
function transposeRowMajor(x: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols)
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = x[i * cols + j]!
  return out
}

/**
 * Thin SVD of a small square `n×n` matrix (row-major) by one-sided Jacobi rotations (Hestenes;
 * Demmel & Veselić 1992: high relative accuracy), returning `U`, `V` row-major `n×n` and σ
 * descending. Replaces ml-matrix's SVD for the re-projection core (2 ms for 24×24 through its
 * per-element accessors; this: ~0.1 ms). Columns of `U` for zero singular values are completed to
 * an orthonormal basis.
 */
export function smallSvd(c: Float64Array, n: number): { u: Float64Array; s: Float64Array; v: Float64Array } {
  // Work on columns: x_j = column j of C, w_j = column j of V (both contiguous, column-major).
  const x = transposeRowMajor(c, n, n)
  const w = new Float64Array(n * n)
  for (let j = 0; j < n; j++) w[j * n + j] = 1
  const eps = 2 ** -52
  // Squared column norms, updated with each rotation (α' = α − tγ, β' = β + tγ) and recomputed
  // exactly at the start of every sweep, so only the inner product costs a dot per pair.
  const norms = new Float64Array(n)
  for (let sweep = 0; sweep < 60; sweep++) {
    for (let j = 0; j < n; j++) norms[j] = dot(x, j * n, x, j * n, n)
    let rotated = false
    for (let p = 0; p < n - 1; p++) {
      const po = p * n
      for (let q = p + 1; q < n; q++) {
        const qo = q * n
        const alpha = norms[p]!
        const beta = norms[q]!
        const gamma = dot(x, po, x, qo, n)
        if (gamma === 0 || Math.abs(gamma) <= eps * Math.sqrt(alpha * beta)) continue
        rotated = true
        const zeta = (beta - alpha) / (2 * gamma)
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta))
        const cs = 1 / Math.sqrt(1 + t * t)
        const sn = cs * t
        norms[p] = alpha - t * gamma
        norms[q] = beta + t * gamma
        for (let i = 0; i < n; i++) {
          const xp = x[po + i]!
          const xq = x[qo + i]!
          x[po + i] = cs * xp - sn * xq
          x[qo + i] = sn * xp + cs * xq
          const wp = w[po + i]!
          const wq = w[qo + i]!
          w[po + i] = cs * wp - sn * wq
          w[qo + i] = sn * wp + cs * wq
        }
      }
    }
    if (!rotated) break
  }
  const sigma = Array.from({ length: n }, (_, j) => Math.sqrt(dot(x, j * n, x, j * n, n)))
  const order = sigma.map((_, j) => j).sort((i, j) => sigma[j]! - sigma[i]!)
  const s = new Float64Array(n)
  const u = new Float64Array(n * n)
  const v = new Float64Array(n * n)
  const top = sigma[order[0]!] ?? 0
  const uCols: Float64Array[] = []
  order.forEach((j, t) => {
    s[t] = sigma[j]!
    for (let i = 0; i < n; i++) v[i * n + t] = w[j * n + i]!
    const col = new Float64Array(n)
    if (sigma[j]! > n * eps * top && sigma[j]! > 0) {
      for (let i = 0; i < n; i++) col[i] = x[j * n + i]! / sigma[j]!
    } else {
      // Negligible σ: any unit vector orthogonal to the columns so far (Gram–Schmidt twice on the best e_i).
      let best: Float64Array | null = null
      let bestNorm = -1
      for (let e = 0; e < n; e++) {
        const cand = new Float64Array(n)
        cand[e] = 1
        for (let pass = 0; pass < 2; pass++)
          for (const prev of uCols) axpyNeg(dot(prev, 0, cand, 0, n), prev, 0, cand, 0, n)
        const nn = Math.sqrt(dot(cand, 0, cand, 0, n))
        if (nn > bestNorm) {
          bestNorm = nn
          best = cand
        }
      }
      for (let i = 0; i < n; i++) col[i] = best![i]! / bestNorm
    }
    uCols.push(col)
    for (let i = 0; i < n; i++) u[i * n + t] = col[i]!
  })
  return { u, s, v }
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
  const core = factoredCore(delta)
  const p = Math.min(r, maxTriplets)
  const lifted = liftTriplets(core, delta, p)
  return { ...lifted, s: core.svd.s.slice(0, p), count: p }
}

/**
 * Below this squared-pivot ratio (`R_kk² / max_j G_jj`, i.e. a condition number above ~10³) the
 * Cholesky route is not trusted and the factor is decomposed by Householder QR instead.
 */
const CHOLESKY_PIVOT_MIN = 1e-6

/** Gram matrix `XᵀX` (row-major `r×r`) of the `r` contiguous length-`len` columns of `x`. */
function gramOfColumns(x: Float64Array, len: number, r: number): Float64Array {
  const g = new Float64Array(r * r)
  for (let p = 0; p < r; p++) {
    for (let q = p; q < r; q++) {
      const v = dot(x, p * len, x, q * len, len)
      g[p * r + q] = v
      g[q * r + p] = v
    }
  }
  return g
}

/** Upper-triangular `R` with `RᵀR = G` (row-major), or `null` when a pivot is relatively tiny. */
function choleskyUpper(g: Float64Array, r: number): Float64Array | null {
  let maxDiag = 0
  for (let k = 0; k < r; k++) maxDiag = Math.max(maxDiag, g[k * r + k]!)
  if (!(maxDiag > 0) || !Number.isFinite(maxDiag)) return null
  const u = new Float64Array(r * r)
  for (let k = 0; k < r; k++) {
    let d = g[k * r + k]!
    for (let t = 0; t < k; t++) d -= u[t * r + k]! * u[t * r + k]!
    if (!(d > CHOLESKY_PIVOT_MIN * maxDiag)) return null
    const rkk = Math.sqrt(d)
    u[k * r + k] = rkk
    for (let j = k + 1; j < r; j++) {
      let v = g[k * r + j]!
      for (let t = 0; t < k; t++) v -= u[t * r + k]! * u[t * r + j]!
      u[k * r + j] = v / rkk
    }
  }
  return u
}

/** `R⁻¹ · Y` for upper-triangular `R` (`r×r`) and `Y` (`r×p`), both row-major. */
function solveUpper(rm: Float64Array, y: Float64Array, r: number, p: number): Float64Array {
  const x = new Float64Array(r * p)
  for (let i = r - 1; i >= 0; i--) {
    const rii = rm[i * r + i]!
    for (let t = 0; t < p; t++) {
      let v = y[i * p + t]!
      for (let j = i + 1; j < r; j++) v -= rm[i * r + j]! * x[j * p + t]!
      x[i * p + t] = v / rii
    }
  }
  return x
}

/** `X · C` for `X` given as `r` contiguous length-`len` columns and `C` row-major `r×p`: row-major `len×p`. */
function columnsTimes(x: Float64Array, len: number, r: number, c: Float64Array, p: number): Float64Array {
  const outT = new Float64Array(p * len)
  for (let t = 0; t < p; t++) {
    const o = t * len
    let q = 0
    // Four columns per pass: one store per four multiply-adds.
    for (; q + 3 < r; q += 4) {
      const c0 = c[q * p + t]!
      const c1 = c[(q + 1) * p + t]!
      const c2 = c[(q + 2) * p + t]!
      const c3 = c[(q + 3) * p + t]!
      const x0 = q * len
      const x1 = x0 + len
      const x2 = x1 + len
      const x3 = x2 + len
      for (let i = 0; i < len; i++) {
        outT[o + i] = outT[o + i]! + c0 * x[x0 + i]! + c1 * x[x1 + i]! + (c2 * x[x2 + i]! + c3 * x[x3 + i]!)
      }
    }
    for (; q < r; q++) {
      const coef = c[q * p + t]!
      if (coef !== 0) axpyNeg(-coef, x, q * len, outT, o, len)
    }
  }
  return transposeRowMajor(outT, p, len)
}

/**
 * The orthogonal-times-triangular split of one factor (`X = Q·R`, `X` as `r` contiguous columns
 * of length `len`): Cholesky of the Gram matrix when it is well conditioned (`Q = X·R⁻¹`, never
 * formed), Householder QR otherwise (zero or nearly dependent columns: exact for rank-deficient
 * stacks).
 */
type FactorQr =
  | { kind: 'cholesky'; cols: Float64Array; len: number; r: Float64Array }
  | { kind: 'householder'; vs: Float64Array; len: number; r: Float64Array }

function factorQr(cols: Float64Array, len: number, r: number, gram?: Float64Array): FactorQr {
  const chol = choleskyUpper(gram ?? gramOfColumns(cols, len, r), r)
  if (chol !== null) return { kind: 'cholesky', cols, len, r: chol }
  const qr = householderQr(Float64Array.from(cols), len, r)
  return { kind: 'householder', vs: qr.vs, len, r: qr.r }
}

/** `Q · Y` (row-major `len×p`) for `Y` row-major `r×p`. */
function applyFactorQ(f: FactorQr, y: Float64Array, r: number, p: number): Float64Array {
  return f.kind === 'householder'
    ? applyQ(f.vs, f.len, y, r, p)
    : columnsTimes(f.cols, f.len, r, solveUpper(f.r, y, r, p), p)
}

/** QR of both factors and the SVD of the `r×r` core `R_B·R_Aᵀ` (all r singular values). */
function factoredCore(
  delta: FactoredDelta,
  grams?: DeltaGrams,
): {
  qrB: FactorQr
  qrA: FactorQr
  svd: { u: Float64Array; s: Float64Array; v: Float64Array }
} {
  const { rank: r, inFeatures: n, outFeatures: m } = delta
  // b is m×r row-major, so its transpose holds b's columns contiguously; a's rows are Aᵀ's columns.
  const qrB = factorQr(transposeRowMajor(delta.b, m, r), m, r, grams?.gb)
  const qrA = factorQr(delta.a, n, r, grams?.ga)
  const core = new Float64Array(r * r)
  for (let i = 0; i < r; i++) {
    for (let j = 0; j < r; j++) {
      const t0 = Math.max(i, j)
      core[i * r + j] = dot(qrB.r, i * r + t0, qrA.r, j * r + t0, r - t0)
    }
  }
  return { qrB, qrA, svd: smallSvd(core, r) }
}

/** The leading `p` singular vectors lifted back through both Q factors (`Q_B·U`, `Q_A·V`). */
function liftTriplets(
  core: ReturnType<typeof factoredCore>,
  delta: FactoredDelta,
  p: number,
): { u: Float64Array; v: Float64Array } {
  const r = delta.rank
  const lead = (x: Float64Array): Float64Array => {
    const out = new Float64Array(r * p)
    for (let i = 0; i < r; i++) for (let t = 0; t < p; t++) out[i * p + t] = x[i * r + t]!
    return out
  }
  return { u: applyFactorQ(core.qrB, lead(core.svd.u), r, p), v: applyFactorQ(core.qrA, lead(core.svd.v), r, p) }
}

/** Like {@link factoredSvd} with every singular value in `s` but only `min(k, r)` vectors (`count`). */
function factoredSvdAllValues(delta: FactoredDelta, k: number, grams?: DeltaGrams): DeltaSvd & { all: Float64Array } {
  const core = factoredCore(delta, grams)
  const p = Math.min(delta.rank, k)
  return { ...liftTriplets(core, delta, p), s: core.svd.s.slice(0, p), count: p, all: core.svd.s }
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
 * `√(‖ΔW‖² − ‖ΔW_k‖²)` would). `grams`, when given, must be {@link deltaGrams} of `delta` as it is
 * now (kept in step with any scaling); they spare recomputing both Gram matrices.
 */
export function reprojectDeltaWithError(delta: FactoredDelta, k: number, grams?: DeltaGrams): Reprojection {
  if (!Number.isInteger(k) || k <= 0) throw new RangeError(`re-projection rank must be a positive integer, got ${k}`)
  const { inFeatures: n, outFeatures: m, rank: r } = delta
  if ((r >= m || r >= n) && Math.min(m, n) > EXACT_DENSE_SVD_MAX) return reprojectLargeDense(delta, k)
  // All singular values (for the error) but only the k kept triplets lifted back through Q.
  const svd: DeltaSvd & { all?: Float64Array } =
    r >= m || r >= n ? factoredSvd(delta) : factoredSvdAllValues(delta, k, grams?.rank === r ? grams : undefined)
  const keep = Math.min(k, svd.count)
  const a = new Float64Array(k * n)
  const b = new Float64Array(m * k)
  for (let t = 0; t < keep; t++) {
    const root = Math.sqrt(Math.max(0, svd.s[t]!))
    for (let i = 0; i < m; i++) b[i * k + t] = svd.u[i * svd.count + t]! * root
    for (let j = 0; j < n; j++) a[t * n + j] = svd.v[j * svd.count + t]! * root
  }
  const values = svd.all ?? svd.s
  let total = 0
  let tail = 0
  for (let t = 0; t < values.length; t++) {
    const sq = values[t]! * values[t]!
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
