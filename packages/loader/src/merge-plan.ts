/**
 * Merge arithmetic on LoRA factors (spec core.md §11.3, fixing `[D-20]`, `[D-20b]`, `[D-26]`).
 *
 * `weighted_sum`: `Δ = Σ_i w_i s_i B_i A_i` per targeted module, with weights explicit, Fisher
 * derived (`w_i = f_i / Σ_j f_j`, §11.4) or equal (`1/n`). Then, in the original's order:
 * 1. global Frobenius trust region: `N = √(Σ_k ‖Δ_k‖²_F)`; if `N > max_delta_fro`, `Δ ← Δ·max/N`;
 * 2. per-module caps, in insertion order: for every key substring `c` with cap `τ`, the group
 *    `M = {k : c ⊂ k}` with `N_M = √(Σ_{k∈M} ‖Δ_k‖²_F) > τ` is scaled by `τ/N_M` (groups may overlap;
 *    later caps see earlier scaling);
 * 3. global scale `Δ ← g·Δ` (which disables the line search).
 * `sequential`: `Δ = Σ_i s_i B_i A_i` with implicit weight 1; weights, trust region, caps and
 * scale do not apply (as in the original).
 *
 * Only modules some adapter targets get a delta, so re-projection never touches embeddings or
 * other untargeted weights `[D-20b]`. Cap keys are matched against the module's weight name
 * `<path>.weight`, the state-dict key the original matched.
 *
 * `method` (issue 17; PEFT `add_weighted_adapter` / mergekit, see merge-methods.ts) chooses how
 * the weighted task vectors of a module combine: `cat` (the exact stacked factors, what
 * `weighted_sum` always did), `svd` (its rank-k truncation), or a dense method (`ties`,
 * `dare_linear`, `dare_ties`, `magnitude_prune`) re-projected to rank k. `k` is `reprojectRank`,
 * else the largest input rank (PEFT's default `svd_rank`). Re-projection runs after the trust
 * region, caps and scale, as before; a scalar commutes with truncation, so the relative error
 * reported in `truncation` is that of the method's own sum.
 */

import {
  type DeltaGrams,
  deltaFrobeniusSquared,
  deltaGrams,
  type FactoredDelta,
  factoredDeltaOf,
  frobeniusSquaredFromGrams,
  type LoraModule,
  reprojectDeltaWithError,
  scaleDeltaInPlace,
  scaleGramsInPlace,
  stackDeltas,
} from '@plora/peft'
import { LoaderError, LoaderErrorCode } from './errors.js'
import {
  DEFAULT_MERGE_METHOD_PARAMS,
  DENSE_MERGE_METHODS,
  denseMergeModuleFactored,
  MERGE_METHODS,
  type MergeMethod,
} from './merge-methods.js'

/** An adapter as the merge sees it: its modules (with PEFT scaling) and, optionally, a Fisher scalar. */
export interface MergeInput {
  /** Label for messages (usually the folder). */
  name: string
  modules: ReadonlyMap<string, LoraModule>
  /** `_load_fisher_scalar` (§11.4) of the adapter, when known. */
  fisherScalar?: number | null
}

/** The merge strategies of the original. */
export const MERGE_STRATEGIES = ['weighted_sum', 'sequential'] as const
/** A merge strategy. */
export type MergeStrategy = (typeof MERGE_STRATEGIES)[number]

/** Options of {@link planMerge}; defaults in {@link DEFAULT_MERGE_PLAN_OPTIONS}. */
export interface MergePlanOptions {
  strategy: MergeStrategy
  /** Explicit weights, one per adapter, used as-is (no normalisation; zero and negative allowed). */
  weights: readonly number[] | null
  /** Derive weights from Fisher scalars (fallback: the adapter's Σ‖T‖_F); ignored when `weights` is set. */
  fisherWeighted: boolean
  /** Global Frobenius trust region; `null` or ≤ 0 = off. */
  maxDeltaFro: number | null
  /** Per-module caps `[keySubstring, cap]`, applied in order. */
  moduleCaps: ReadonlyArray<readonly [string, number]>
  /** Multiply the merged delta by this; disables the line search. */
  globalScale: number | null
  /** Re-project each module's merged delta to this rank (`null` = keep the stacked factors). */
  reprojectRank: number | null
  /**
   * How task vectors combine (merge-methods.ts). `null`: `cat`, or `svd` when `reprojectRank`
   * is set (the behaviour before methods existed). `sequential` allows only `cat` and `svd`.
   */
  method: MergeMethod | null
  /** Fraction kept by magnitude for `ties` and `magnitude_prune`, in (0, 1]. */
  density: number
  /** DARE drop probability in [0, 1) for `dare_linear` and `dare_ties`. */
  dropRate: number
  /** Seed of DARE's drop masks. */
  seed: number
}

/** Defaults: the original's `merge_plasmids` defaults. */
export const DEFAULT_MERGE_PLAN_OPTIONS: MergePlanOptions = {
  strategy: 'weighted_sum',
  weights: null,
  fisherWeighted: false,
  maxDeltaFro: null,
  moduleCaps: [],
  globalScale: null,
  reprojectRank: null,
  method: null,
  density: DEFAULT_MERGE_METHOD_PARAMS.density,
  dropRate: DEFAULT_MERGE_METHOD_PARAMS.dropRate,
  seed: DEFAULT_MERGE_METHOD_PARAMS.seed,
}

/** One module's loss from re-projection to rank k. */
export interface ModuleTruncation {
  path: string
  /** `‖ΔW‖_F` before truncation (after trust region, caps and scale). */
  norm: number
  /** `‖ΔW − ΔW_k‖_F`. */
  error: number
  /** `error / norm` (0 when `norm` is 0). */
  relative: number
}

/** What re-projection to rank k lost, per module and over all modules. */
export interface MergeTruncation {
  rank: number
  /** `√Σ error² / √Σ norm²` over all modules (0 when the merged delta is 0). */
  relative: number
  modules: ModuleTruncation[]
}

/** How the weights were chosen. */
export type WeightSource = 'explicit' | 'fisher' | 'fisher-fro-fallback' | 'equal' | 'sequential'

/** The merged delta and an account of every scaling applied. */
export interface MergePlan {
  strategy: MergeStrategy
  /** The method that combined the task vectors. */
  method: MergeMethod
  /** Per-adapter weights actually used. */
  weights: number[]
  weightSource: WeightSource
  /** Merged delta per module path (float64 factors, scaling folded into `b`). */
  deltas: Map<string, FactoredDelta>
  /** `‖Δ‖_F` (over all modules) before the trust region. */
  normBefore: number
  /** Factor applied by the trust region (1 when inactive). */
  trustRegionFactor: number
  /** Factor applied by each cap, in order (1 when inactive). */
  capFactors: Array<{ key: string; cap: number; groupNorm: number; factor: number }>
  /** Global scale applied (1 when none). */
  globalScale: number
  /** `‖Δ‖_F` after all scalings (and after re-projection when requested). */
  normAfter: number
  /** The rank of every module delta after re-projection (`svd` and the dense methods), else null. */
  reprojectRank: number | null
  /** The truncation error of the re-projection, when there was one. */
  truncation: MergeTruncation | null
}

/** Σ over tensors of ‖T‖_F for an adapter's A and B tensors (the original's `fro_sum`, §6.3). */
export function adapterFroSum(modules: ReadonlyMap<string, LoraModule>): number {
  let total = 0
  for (const m of modules.values()) {
    let sa = 0
    for (const x of m.a) sa += x * x
    let sb = 0
    for (const x of m.b) sb += x * x
    total += Math.sqrt(sa) + Math.sqrt(sb)
  }
  return total
}

function invalid(message: string, details: Record<string, unknown>): LoaderError {
  return new LoaderError(LoaderErrorCode.MergeOptionsInvalid, message, details)
}

/** The weights of a `weighted_sum` merge and where they came from (§11.3 step 2). */
export function resolveMergeWeights(
  inputs: readonly MergeInput[],
  options: Pick<MergePlanOptions, 'weights' | 'fisherWeighted'>,
): { weights: number[]; source: WeightSource } {
  const n = inputs.length
  if (options.weights !== null) {
    if (options.weights.length !== n) {
      throw invalid(
        `weights length must match the number of adapters: got ${options.weights.length} weights for ${n} adapters`,
        {
          weights: options.weights.length,
          adapters: n,
        },
      )
    }
    for (const w of options.weights)
      if (!Number.isFinite(w)) throw invalid(`merge weight ${w} is not a finite number`, { weight: w })
    return { weights: [...options.weights], source: 'explicit' }
  }
  if (options.fisherWeighted) {
    let usedFallback = false
    const f = inputs.map((input) => {
      const s = input.fisherScalar
      if (s != null && Number.isFinite(s) && s > 0) return s
      usedFallback = true
      return adapterFroSum(input.modules)
    })
    if (f.every((x) => x > 0)) {
      const total = f.reduce((acc, x) => acc + x, 0)
      return { weights: f.map((x) => x / total), source: usedFallback ? 'fisher-fro-fallback' : 'fisher' }
    }
  }
  return { weights: inputs.map(() => 1 / n), source: 'equal' }
}

/**
 * Squared Frobenius norm per module, kept in step with every scaling (so each is computed once).
 * For low-rank deltas it keeps the two Gram matrices the norm comes from, which the re-projection
 * reuses for its triangular factors.
 */
class NormLedger {
  readonly #sq = new Map<string, number>()
  readonly #grams = new Map<string, DeltaGrams>()
  constructor(deltas: ReadonlyMap<string, FactoredDelta>) {
    for (const [path, d] of deltas) {
      if (d.rank <= GRAM_REUSE_MAX_RANK) {
        const g = deltaGrams(d)
        this.#grams.set(path, g)
        this.#sq.set(path, frobeniusSquaredFromGrams(g))
      } else {
        this.#sq.set(path, deltaFrobeniusSquared(d))
      }
    }
  }
  total(filter?: (path: string) => boolean): number {
    let t = 0
    for (const [path, v] of this.#sq) if (filter === undefined || filter(path)) t += v
    return t
  }
  scale(path: string, factor: number): void {
    this.#sq.set(path, this.#sq.get(path)! * factor * factor)
    const g = this.#grams.get(path)
    if (g !== undefined) scaleGramsInPlace(g, factor)
  }
  /** The Gram matrices of the module's delta as it is now, when kept. */
  grams(path: string): DeltaGrams | undefined {
    return this.#grams.get(path)
  }
}

/** Stacked ranks up to this keep their Gram matrices (r² floats each) for the re-projection. */
const GRAM_REUSE_MAX_RANK = 256

/**
 * Computes the merged delta of a list of adapters in factor space.
 *
 * @throws LoaderError `LOADER_MERGE_OPTIONS_INVALID` (strategy, weights, caps, rank),
 *   `LOADER_MERGE_INPUTS_INCOMPATIBLE` (one module path with different shapes across adapters).
 * @example
 * ```ts
 * const plan = planMerge([{ name: 'a', modules: a.modules }, { name: 'b', modules: b.modules }], { weights: [0.7, 0.3] })
 * ```
 */
export function planMerge(inputs: readonly MergeInput[], options: Partial<MergePlanOptions> = {}): MergePlan {
  const o: MergePlanOptions = { ...DEFAULT_MERGE_PLAN_OPTIONS, ...options }
  if (!(MERGE_STRATEGIES as readonly string[]).includes(o.strategy)) {
    throw invalid(`Unknown merge strategy: ${String(o.strategy)} (expected ${MERGE_STRATEGIES.join(' or ')})`, {
      strategy: o.strategy,
    })
  }
  if (o.reprojectRank !== null && (!Number.isInteger(o.reprojectRank) || o.reprojectRank <= 0)) {
    throw invalid(`re-projection rank must be a positive integer, got ${o.reprojectRank}`, {
      reprojectRank: o.reprojectRank,
    })
  }
  for (const [key, cap] of o.moduleCaps) {
    if (!Number.isFinite(cap) || cap < 0)
      throw invalid(`module cap for "${key}" must be a finite number ≥ 0, got ${cap}`, { key, cap })
  }
  if (o.globalScale !== null && !Number.isFinite(o.globalScale)) {
    throw invalid(`global scale must be a finite number, got ${o.globalScale}`, { globalScale: o.globalScale })
  }
  if (o.method !== null && !(MERGE_METHODS as readonly string[]).includes(o.method)) {
    throw invalid(`Unknown merge method: ${String(o.method)} (expected one of ${MERGE_METHODS.join(', ')})`, {
      method: o.method,
    })
  }
  const method: MergeMethod = o.method ?? (o.reprojectRank === null ? 'cat' : 'svd')
  const dense = DENSE_MERGE_METHODS.includes(method)
  if (method === 'cat' && o.reprojectRank !== null) {
    throw invalid(`merge method cat keeps the exact stacked factors; a re-projection rank needs method svd`, {
      method,
      reprojectRank: o.reprojectRank,
    })
  }
  if (o.strategy === 'sequential' && dense) {
    throw invalid(`strategy sequential supports only methods cat and svd, got ${method}`, {
      strategy: o.strategy,
      method,
    })
  }
  if ((method === 'ties' || method === 'magnitude_prune') && !(o.density > 0 && o.density <= 1)) {
    throw invalid(`density must be in (0, 1], got ${o.density}`, { density: o.density })
  }
  if ((method === 'dare_linear' || method === 'dare_ties') && !(o.dropRate >= 0 && o.dropRate < 1)) {
    throw invalid(`drop rate must be in [0, 1), got ${o.dropRate}`, { dropRate: o.dropRate })
  }
  if (!Number.isSafeInteger(o.seed) || o.seed < 0) {
    throw invalid(`seed must be a non-negative integer, got ${o.seed}`, { seed: o.seed })
  }
  const sequential = o.strategy === 'sequential'
  const { weights, source } = sequential
    ? { weights: inputs.map(() => 1), source: 'sequential' as const }
    : inputs.length === 0
      ? { weights: [], source: 'equal' as const }
      : resolveMergeWeights(inputs, o)

  // Group every adapter's module deltas by path, each scaled by its weight.
  const perPath = new Map<string, FactoredDelta[]>()
  const perPathAdapters = new Map<string, number[]>()
  let maxRank = 0
  inputs.forEach((input, i) => {
    for (const m of input.modules.values()) {
      const list = perPath.get(m.path) ?? []
      const first = list[0]
      if (first !== undefined && (first.inFeatures !== m.inFeatures || first.outFeatures !== m.outFeatures)) {
        throw new LoaderError(
          LoaderErrorCode.MergeInputsIncompatible,
          `module ${m.path} is ${m.outFeatures}×${m.inFeatures} in ${input.name} but ${first.outFeatures}×${first.inFeatures} in an earlier adapter`,
          { path: m.path, adapter: input.name },
        )
      }
      list.push(factoredDeltaOf(m, weights[i]!))
      perPath.set(m.path, list)
      perPathAdapters.set(m.path, [...(perPathAdapters.get(m.path) ?? []), i])
      maxRank = Math.max(maxRank, m.rank)
    }
  })
  const deltas = new Map<string, FactoredDelta>()
  const params = { density: o.density, dropRate: o.dropRate, seed: o.seed }
  for (const path of [...perPath.keys()].sort()) {
    const tasks = perPath.get(path)!
    deltas.set(
      path,
      dense ? denseMergeModuleFactored(method, tasks, perPathAdapters.get(path)!, params) : stackDeltas(tasks),
    )
  }
  const rank = method === 'cat' ? null : (o.reprojectRank ?? Math.max(1, maxRank))

  const norms = new NormLedger(deltas)
  const normBefore = Math.sqrt(norms.total())
  const scaleAll = (factor: number, filter?: (path: string) => boolean): void => {
    for (const [path, d] of deltas) {
      if (filter !== undefined && !filter(path)) continue
      scaleDeltaInPlace(d, factor)
      norms.scale(path, factor)
    }
  }
  let trustRegionFactor = 1
  const capFactors: MergePlan['capFactors'] = []
  let globalScale = 1
  if (!sequential) {
    if (o.maxDeltaFro !== null && o.maxDeltaFro > 0 && normBefore > o.maxDeltaFro) {
      trustRegionFactor = o.maxDeltaFro / normBefore
      scaleAll(trustRegionFactor)
    }
    for (const [key, cap] of o.moduleCaps) {
      const inGroup = (path: string): boolean => `${path}.weight`.includes(key)
      const groupNorm = Math.sqrt(norms.total(inGroup))
      let factor = 1
      if (groupNorm > 0 && groupNorm > cap) {
        factor = cap / groupNorm
        scaleAll(factor, inGroup)
      }
      capFactors.push({ key, cap, groupNorm, factor })
    }
    if (o.globalScale !== null) {
      globalScale = o.globalScale
      scaleAll(globalScale)
    }
  }
  let normAfterSquared = norms.total()
  let truncation: MergeTruncation | null = null
  if (rank !== null) {
    normAfterSquared = 0
    const modules: ModuleTruncation[] = []
    let normSq = 0
    let errorSq = 0
    for (const [path, d] of deltas) {
      const projected = reprojectDeltaWithError(d, rank, norms.grams(path))
      deltas.set(path, projected.delta)
      // Rank ≤ k factors: cheap to measure exactly.
      normAfterSquared += deltaFrobeniusSquared(projected.delta)
      modules.push({
        path,
        norm: projected.norm,
        error: projected.error,
        relative: projected.norm > 0 ? projected.error / projected.norm : 0,
      })
      normSq += projected.norm * projected.norm
      errorSq += projected.error * projected.error
    }
    truncation = { rank, relative: normSq > 0 ? Math.sqrt(errorSq / normSq) : 0, modules }
  }
  return {
    strategy: o.strategy,
    method,
    weights,
    weightSource: source,
    deltas,
    normBefore,
    trustRegionFactor,
    capFactors,
    globalScale,
    normAfter: Math.sqrt(normAfterSquared),
    reprojectRank: rank,
    truncation,
  }
}
