/**
 * Weight statistics of a LoRA update ΔW = s·B·A computed on the factors, never on the dense ΔW.
 *
 * For A ∈ ℝ^{r×in} and B ∈ ℝ^{out×r} form the r×r Gram matrices G_A = A·Aᵀ and G_B = Bᵀ·B. Then
 *   ‖B·A‖²_F = tr(Aᵀ Bᵀ B A) = tr(G_B · G_A) = Σ_ij (G_A)_ij (G_B)_ij,
 * and the squared singular values of B·A are the eigenvalues of G_B·G_A, which are those of the
 * symmetric PSD matrix  M = D^{½} Vᵀ G_B V D^{½}  where G_A = V D Vᵀ (similarity transform with
 * G_A^{½} = V D^{½} Vᵀ). Cost O(r²·(in + out) + r³) instead of O(out·in·r) for ΔW plus its SVD.
 * GPT-2 Conv1D adapters (`fan_in_fan_out`) store ΔWᵀ; transposition keeps singular values, so the
 * statistics are the same.
 *
 * From σ₁ ≥ … ≥ σ_r (of ΔW, i.e. |s|·σ(B·A)):
 *   spectral = σ₁, frobenius = √Σσ², stable rank = ‖ΔW‖²_F / σ₁² (Rudelson–Vershynin),
 *   top energy = σ₁² / Σσ² (share of the update in its strongest direction),
 *   effective rank = exp(H(p)), p_i = σ_i / Σσ (Roy & Vetterli, "The effective rank", EUSIPCO 2007),
 *   numerical rank = #{σ_i > max(out,in)·ε₃₂·σ₁} (the tolerance of spec core.md §12 `effective_rank`).
 *
 * Accumulation is in float64; the small symmetric eigenproblems use ml-matrix (tred2/tql2).
 * Spec: core.md §6.3–§6.4 replaced (fix of [D-03b] file-size proxy and [D-24] mixed A/B norms).
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix'
import { PeftError, PeftErrorCode } from './errors.js'

/** The factors of one adapted module, row-major as stored by PEFT (`lora_A.weight`, `lora_B.weight`). */
export interface LoraFactors {
  /** `lora_A.weight`, shape [r, inFeatures]. */
  a: Float32Array | Float64Array
  /** `lora_B.weight`, shape [outFeatures, r]. */
  b: Float32Array | Float64Array
  r: number
  inFeatures: number
  outFeatures: number
  /** The LoRA scaling s (lora_alpha / r, or lora_alpha / √r with rsLoRA). */
  scale: number
}

/** Statistics of one module's update ΔW = s·B·A. */
export interface ModuleUpdateStats {
  /** σ₁ of ΔW. */
  spectral: number
  /** ‖ΔW‖_F. */
  frobenius: number
  /** ‖ΔW‖²_F / σ₁² ∈ [1, r] (1 when ΔW = 0 by convention). */
  stableRank: number
  /** σ₁² / Σσ² ∈ [1/r, 1] (1 when ΔW = 0 by convention). */
  topEnergy: number
  /** exp(entropy of σ/Σσ) ∈ [1, r] (Roy & Vetterli). */
  effectiveRank: number
  /** Singular values above max(out,in)·ε₃₂·σ₁. */
  numericalRank: number
  /** Singular values of ΔW, descending (length r). */
  singularValues: number[]
  /** ‖A‖_F and ‖B‖_F (reported only; the original mixed them in one population, [D-24]). */
  normA: number
  normB: number
}

const EPS_F32 = 2 ** -23

/** r×r Gram A·Aᵀ of a row-major [r, n] matrix, float64. */
function gramRows(a: ArrayLike<number>, r: number, n: number): Float64Array {
  const g = new Float64Array(r * r)
  for (let i = 0; i < r; i++) {
    const oi = i * n
    for (let j = i; j < r; j++) {
      const oj = j * n
      let acc = 0
      for (let k = 0; k < n; k++) acc += a[oi + k]! * a[oj + k]!
      g[i * r + j] = acc
      g[j * r + i] = acc
    }
  }
  return g
}

/** r×r Gram Bᵀ·B of a row-major [m, r] matrix, float64 (one pass over the rows). */
function gramCols(b: ArrayLike<number>, m: number, r: number): Float64Array {
  const g = new Float64Array(r * r)
  for (let o = 0; o < m; o++) {
    const row = o * r
    for (let i = 0; i < r; i++) {
      const bi = b[row + i]!
      if (bi === 0) continue
      for (let j = i; j < r; j++) g[i * r + j]! += bi * b[row + j]!
    }
  }
  for (let i = 0; i < r; i++) for (let j = 0; j < i; j++) g[i * r + j] = g[j * r + i]!
  return g
}

function toMatrix(g: Float64Array, r: number): Matrix {
  const m = new Matrix(r, r)
  for (let i = 0; i < r; i++) for (let j = 0; j < r; j++) m.set(i, j, g[i * r + j]!)
  return m
}

/** Eigenvalues and eigenvectors of a symmetric r×r matrix. */
function symEig(g: Float64Array, r: number): { values: number[]; vectors: Matrix } {
  const e = new EigenvalueDecomposition(toMatrix(g, r), { assumeSymmetric: true })
  return { values: e.realEigenvalues, vectors: e.eigenvectorMatrix }
}

/**
 * Singular values of B·A (descending) from the factors, via the r×r problem described in the header.
 * `a` is [r, n] row-major, `b` is [m, r] row-major.
 */
export function factorSingularValues(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  r: number,
  n: number,
  m: number,
): number[] {
  if (r === 0) return []
  return singularValuesFromGrams(gramRows(a, r, n), gramCols(b, m, r), r)
}

/** Singular values of B·A from G_A = A·Aᵀ and G_B = Bᵀ·B (both r×r, row-major), descending. */
function singularValuesFromGrams(ga: Float64Array, gb: Float64Array, r: number): number[] {
  const { values: d, vectors: v } = symEig(ga, r)
  // M = D^½ Vᵀ G_B V D^½ (symmetric PSD, same spectrum as G_B·G_A).
  const sqrtD = d.map((x) => Math.sqrt(Math.max(0, x)))
  const gbm = toMatrix(gb, r)
  const core = v.transpose().mmul(gbm).mmul(v)
  const mm = new Float64Array(r * r)
  for (let i = 0; i < r; i++) {
    for (let j = i; j < r; j++) {
      const x = sqrtD[i]! * core.get(i, j) * sqrtD[j]!
      // symmetrise against round-off before the symmetric solver
      const y = sqrtD[j]! * core.get(j, i) * sqrtD[i]!
      mm[i * r + j] = (x + y) / 2
      mm[j * r + i] = (x + y) / 2
    }
  }
  const { values } = symEig(mm, r)
  return values.map((x) => Math.sqrt(Math.max(0, x))).sort((p, q) => q - p)
}

function checkShapes(f: LoraFactors, where: string): void {
  const okA = f.a.length === f.r * f.inFeatures
  const okB = f.b.length === f.outFeatures * f.r
  if (!okA || !okB || !(f.r >= 1) || !Number.isFinite(f.scale)) {
    throw new PeftError(
      PeftErrorCode.FactorsInvalid,
      `LoRA factors of ${where} do not chain: expected A [${f.r}, ${f.inFeatures}] (${f.r * f.inFeatures} values) and B [${f.outFeatures}, ${f.r}] (${f.outFeatures * f.r} values) with a finite scale; found ${f.a.length} and ${f.b.length} values, scale ${f.scale}`,
      { where, r: f.r, inFeatures: f.inFeatures, outFeatures: f.outFeatures },
    )
  }
}

function trace(g: Float64Array, r: number): number {
  let acc = 0
  for (let i = 0; i < r; i++) acc += g[i * r + i]!
  return acc
}

/**
 * Statistics of ΔW = s·B·A for one module, computed on the factors.
 * @throws PeftError `PEFT_FACTORS_INVALID` when the shapes do not chain
 */
export function moduleUpdateStats(f: LoraFactors, where = 'module'): ModuleUpdateStats {
  checkShapes(f, where)
  const s = Math.abs(f.scale)
  const ga = gramRows(f.a, f.r, f.inFeatures)
  const gb = gramCols(f.b, f.outFeatures, f.r)
  // ‖BA‖²_F = Σ (G_A ∘ G_B), exact up to summation round-off (no eigen-solver error).
  let fro2 = 0
  for (let i = 0; i < ga.length; i++) fro2 += ga[i]! * gb[i]!
  const frobenius = s * Math.sqrt(Math.max(0, fro2))
  const sv = singularValuesFromGrams(ga, gb, f.r).map((x) => s * x)
  const spectral = sv[0] ?? 0
  const tol = Math.max(f.outFeatures, f.inFeatures) * EPS_F32 * spectral
  const numericalRank = spectral > 0 ? sv.filter((x) => x > tol).length : 0
  let stableRank = 1
  let topEnergy = 1
  let effectiveRank = 1
  if (spectral > 0 && frobenius > 0) {
    stableRank = (frobenius * frobenius) / (spectral * spectral)
    topEnergy = (spectral * spectral) / (frobenius * frobenius)
    const total = sv.reduce((acc, x) => acc + x, 0)
    let h = 0
    for (const x of sv) {
      const p = x / total
      if (p > 0) h -= p * Math.log(p)
    }
    effectiveRank = Math.exp(h)
  }
  return {
    spectral,
    frobenius,
    stableRank,
    topEnergy: Math.min(1, topEnergy),
    effectiveRank,
    numericalRank,
    singularValues: sv,
    // ‖A‖²_F = tr(G_A), ‖B‖²_F = tr(G_B): no extra pass over the factors
    normA: Math.sqrt(trace(ga, f.r)),
    normB: Math.sqrt(trace(gb, f.r)),
  }
}
