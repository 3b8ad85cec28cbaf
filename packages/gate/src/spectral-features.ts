/**
 * Weight-space spectral features of a LoRA adapter (issue 20), in the spirit of the published
 * weight-analysis Trojan detectors (e.g. the spectral/statistical weight features of the Trojan
 * Detection Challenge baselines): a fixed-length, named vector that does not depend on the rank
 * or on the number of layers, for a calibrated classifier ({@link ./spectral-classifier.ts}).
 *
 * Per module, ΔW = s·B·A (PEFT's logical orientation `[out, in]`, B `[out, r]`, A `[r, in]`) has
 * at most r nonzero singular values; they are computed exactly from the r×r problem of the Gram
 * matrices (BᵀB)(AAᵀ) in float64 (`factorSingularValues` of `@plora/peft`), never from the dense
 * ΔW. Modules are grouped by kind:
 *
 * - GPT-2's fused `attn.c_attn` is split by output features into its Q, K, V thirds. The model
 *   computes `[Q K V] = x·W + s·x·Aᵀ·Bᵀ` and splits the 3d outputs in that order
 *   (`@plora/model` gpt2.ts; the Conv1D weight is stored `[in, out]`, so the thirds are *columns* of
 *   the stored ΔWᵀ), i.e. rows [0, d), [d, 2d), [2d, 3d) of B: ΔW_Q = s·B[0:d]·A, and so on.
 * - `attn.c_proj` → o; `mlp.c_fc` → up and `mlp.c_proj` → down (GPT-2's MLP up- and down-projection);
 * - LLaMA: q_proj, k_proj, v_proj, o_proj, gate_proj → gate, up_proj → up, down_proj → down;
 * - anything else → other.
 *
 * Per module (σ₁ ≥ … ≥ σ_r of ΔW, p_i = σ_i²/Σσ²): log σ₁, log ‖ΔW‖_F, stable rank ‖ΔW‖²_F/σ₁²,
 * spectral entropy −Σ p_i ln p_i, and σ₁/Σσ. Per kind, over its modules (layers): mean, max and
 * the population standard deviation of each, plus `present` (1 when the adapter has the kind). An
 * absent kind gives zeros and `present` = 0. A zero update (B = 0) has log σ₁ = log ‖ΔW‖_F =
 * ln 1e-30 and the conventions stable rank 1, entropy 0, σ₁/Σσ = 1 (as `moduleUpdateStats`).
 */
import { factorSingularValues } from '@plora/peft'
import { GateError, GateErrorCode } from './errors.js'

/** Module kinds of the feature vector, in vector order. */
export const SPECTRAL_KINDS = ['q', 'k', 'v', 'o', 'gate', 'up', 'down', 'other'] as const
/** One module kind. */
export type SpectralKind = (typeof SPECTRAL_KINDS)[number]

/** Per-module statistics, in vector order. */
export const SPECTRAL_STATS = [
  'log_sigma1',
  'log_frobenius',
  'stable_rank',
  'spectral_entropy',
  'sigma1_share',
] as const
/** One per-module statistic. */
export type SpectralStat = (typeof SPECTRAL_STATS)[number]

const AGGREGATES = ['mean', 'max', 'std'] as const

/** Names of the feature vector: `<kind>.<stat>.<mean|max|std>` and `<kind>.present`, per kind. */
export const SPECTRAL_FEATURE_NAMES: readonly string[] = Object.freeze(
  SPECTRAL_KINDS.flatMap((k) => [
    ...SPECTRAL_STATS.flatMap((s) => AGGREGATES.map((a) => `${k}.${s}.${a}`)),
    `${k}.present`,
  ]),
)

/** One LoRA module as decoded by `@plora/peft` (row-major factors; `LoraModule` fits). */
export interface SpectralModuleInput {
  /** Dotted module path (`transformer.h.0.attn.c_attn`, `model.layers.0.self_attn.q_proj`). */
  path: string
  /** `lora_A.weight`, `[r, inFeatures]`. */
  a: ArrayLike<number>
  /** `lora_B.weight`, `[outFeatures, r]`. */
  b: ArrayLike<number>
  /** The module's rank r. */
  rank: number
  inFeatures: number
  outFeatures: number
  /** The PEFT scaling s. */
  scale: number
}

/** One (sub)module update the statistics are computed on. */
export interface SpectralPart {
  /** The module path, with `#q`, `#k`, `#v` for the thirds of a fused `c_attn`. */
  path: string
  kind: SpectralKind
  /** Nonzero-rank singular values of this part of ΔW, descending (length r). */
  singularValues: number[]
  stats: Record<SpectralStat, number>
}

const LOG_FLOOR = 1e-30

/** The kind(s) of a module path: one kind, or the Q/K/V split of a fused GPT-2 `c_attn`. */
export function moduleKind(path: string): SpectralKind | 'qkv' {
  const parts = path.split('.')
  const last = parts[parts.length - 1] ?? ''
  const parent = parts[parts.length - 2] ?? ''
  switch (last) {
    case 'c_attn':
      return 'qkv'
    case 'c_proj':
      return parent === 'mlp' ? 'down' : 'o'
    case 'c_fc':
    case 'up_proj':
      return 'up'
    case 'q_proj':
      return 'q'
    case 'k_proj':
      return 'k'
    case 'v_proj':
      return 'v'
    case 'o_proj':
      return 'o'
    case 'gate_proj':
      return 'gate'
    case 'down_proj':
      return 'down'
    default:
      return 'other'
  }
}

/** The statistics of one update from its singular values (see the file header). */
export function spectralStats(singularValues: readonly number[]): Record<SpectralStat, number> {
  const s1 = singularValues[0] ?? 0
  let sum = 0
  let sum2 = 0
  for (const x of singularValues) {
    sum += x
    sum2 += x * x
  }
  if (!(s1 > 0) || !(sum2 > 0)) {
    const l = Math.log(LOG_FLOOR)
    return { log_sigma1: l, log_frobenius: l, stable_rank: 1, spectral_entropy: 0, sigma1_share: 1 }
  }
  let h = 0
  for (const x of singularValues) {
    const p = (x * x) / sum2
    if (p > 0) h -= p * Math.log(p)
  }
  return {
    log_sigma1: Math.log(s1),
    log_frobenius: 0.5 * Math.log(sum2),
    stable_rank: sum2 / (s1 * s1),
    spectral_entropy: h,
    sigma1_share: s1 / sum,
  }
}

function invalid(path: string, what: string, details: Record<string, unknown>): never {
  throw new GateError(GateErrorCode.WeightsInvalid, `spectral features of ${path}: ${what}`, { path, ...details })
}

function checkModule(m: SpectralModuleInput): void {
  const { rank: r, inFeatures: n, outFeatures: o } = m
  if (!(Number.isInteger(r) && r >= 1 && Number.isInteger(n) && n >= 1 && Number.isInteger(o) && o >= 1)) {
    invalid(m.path, `expected positive integer r, in and out features; found r=${r}, in=${n}, out=${o}`, {
      r,
      inFeatures: n,
      outFeatures: o,
    })
  }
  if (m.a.length !== r * n || m.b.length !== o * r) {
    invalid(
      m.path,
      `factors do not chain: expected A [${r}, ${n}] (${r * n} values) and B [${o}, ${r}] (${o * r} values); found ${m.a.length} and ${m.b.length} values`,
      { r, inFeatures: n, outFeatures: o, a: m.a.length, b: m.b.length },
    )
  }
  if (!Number.isFinite(m.scale)) invalid(m.path, `expected a finite scale; found ${m.scale}`, { scale: m.scale })
  for (const [name, xs] of [
    ['A', m.a],
    ['B', m.b],
  ] as const) {
    for (let i = 0; i < xs.length; i++) {
      if (!Number.isFinite(xs[i]!)) invalid(m.path, `${name} has a non-finite entry at index ${i}`, { index: i })
    }
  }
}

function rowsOf(b: ArrayLike<number>, r: number, from: number, to: number): Float64Array {
  const out = new Float64Array((to - from) * r)
  for (let i = 0; i < out.length; i++) out[i] = b[from * r + i]!
  return out
}

/**
 * The parts of one module with their exact nonzero singular values: one part, or three for a
 * fused `c_attn` whose out features divide by 3 (a `c_attn` that does not is kind `other`).
 * @throws GateError `GATE_WEIGHTS_INVALID` for factors that do not chain, or non-finite values
 */
export function moduleSpectralParts(m: SpectralModuleInput): SpectralPart[] {
  checkModule(m)
  const s = Math.abs(m.scale)
  const part = (path: string, kind: SpectralKind, b: ArrayLike<number>, out: number): SpectralPart => {
    const sv = factorSingularValues(m.a, b, m.rank, m.inFeatures, out).map((x) => s * x)
    return { path, kind, singularValues: sv, stats: spectralStats(sv) }
  }
  const kind = moduleKind(m.path)
  if (kind !== 'qkv') return [part(m.path, kind, m.b, m.outFeatures)]
  if (m.outFeatures % 3 !== 0) return [part(m.path, 'other', m.b, m.outFeatures)]
  const d = m.outFeatures / 3
  return (['q', 'k', 'v'] as const).map((k, i) => part(`${m.path}#${k}`, k, rowsOf(m.b, m.rank, i * d, (i + 1) * d), d))
}

/** The feature vector of an adapter, in {@link SPECTRAL_FEATURE_NAMES} order, and its parts. */
export interface SpectralFeatures {
  values: number[]
  parts: SpectralPart[]
}

/**
 * The spectral feature vector of an adapter's modules (any order: the result does not depend on
 * it). An adapter without modules gives all zeros.
 * @throws GateError `GATE_WEIGHTS_INVALID` for malformed factors (see {@link moduleSpectralParts})
 */
export function spectralFeatures(modules: Iterable<SpectralModuleInput>): SpectralFeatures {
  const parts = [...modules]
    .flatMap(moduleSpectralParts)
    .sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0))
  const values: number[] = []
  for (const k of SPECTRAL_KINDS) {
    const of = parts.filter((p) => p.kind === k)
    for (const st of SPECTRAL_STATS) {
      if (of.length === 0) {
        values.push(0, 0, 0)
        continue
      }
      const xs = of.map((p) => p.stats[st])
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length
      const max = Math.max(...xs)
      const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length)
      values.push(mean, max, std)
    }
    values.push(of.length > 0 ? 1 : 0)
  }
  return { values, parts }
}

/** A feature vector as a name → value record (for reports). */
export function namedSpectralFeatures(values: readonly number[]): Record<string, number> {
  return Object.fromEntries(SPECTRAL_FEATURE_NAMES.map((n, i) => [n, values[i]!]))
}
