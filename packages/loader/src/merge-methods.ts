/**
 * Merge methods of PEFT's `LoraModel.add_weighted_adapter` and mergekit, in float64 (issue 17
 * item 3). Each acts per module on the weighted task vectors `τ_i = w_i · s_i · B_i A_i`, where
 * `s_i` is the adapter's own PEFT scale for that module (`alpha/r`, or `alpha/√r` with rsLoRA;
 * `moduleScale` of @plora/peft, already folded into each {@link LoraModule}) and `w_i` may be
 * negative. Modules are in PEFT's logical `[out, in]` orientation, so `fan_in_fan_out` (GPT-2
 * Conv1D) needs nothing here.
 *
 * - `cat`: exact, in factor space: `[w_1 s_1 B_1 | … | w_n s_n B_n] · [A_1; …; A_n]`, rank `Σ r_i`
 *   (PEFT `combination_type="cat"`, which concatenates `A` and `B` the same way).
 * - `svd`: the best rank-k approximation (Eckart–Young) of that exact sum, by QR of the stacked
 *   factors and the SVD of the small core (PEFT `combination_type="svd"`, which forms the dense
 *   sum; here it never is). Default `k = max r_i`, PEFT's default `svd_rank`.
 * - `ties` (Yadav et al. 2023, "TIES-Merging: Resolving Interference When Merging Models"): trim
 *   each dense `τ_i` to its top `density` fraction by magnitude (`⌊density·numel⌋` entries,
 *   PEFT `magnitude_based_pruning`), elect each entry's sign as the sign of `Σ_i τ̃_i` (PEFT's
 *   `majority_sign_method="total"`; a zero sum elects +), and take the disjoint mean: the sum of
 *   the entries that agree with the elected sign divided by their count (PEFT `disjoint_merge`,
 *   count clamped to ≥ 1).
 * - `dare_linear` (Yu et al. 2023, "Language Models are Super Mario: Absorbing Abilities from
 *   Homologous Models as a Free Lunch"): drop each entry of `τ_i` with probability `p`
 *   (`dropRate`), rescale the survivors by `1/(1−p)`, sum (PEFT `dare_linear`, whose `density` is
 *   `1−p`).
 * - `dare_ties`: DARE's drop-and-rescale, then TIES's sign election and disjoint mean.
 * - `magnitude_prune`: trim each `τ_i` to `density` by magnitude, then sum (PEFT
 *   `magnitude_prune`).
 *
 * The dense methods are exact in dense `[out, in]` form and re-projected to rank `k` afterwards
 * (PEFT's `ties_svd`, `dare_linear_svd`, … ; mergekit works on the dense weights). One
 * deliberate difference from PEFT: the sign election and the trim act on the *weighted* task
 * vectors `w_i τ_i` (as mergekit's `sign_consensus` does on `tvs * weights`), so a negative weight
 * votes with the negated sign — PEFT elects on the unweighted tensors and applies the weights
 * afterwards, which lets a subtracted adapter win the election for the sign it is meant to remove.
 * With positive equal weights both agree.
 *
 * DARE's drop mask is drawn from @plora/common's seeded `PythonRandom` (CPython's
 * `random.Random`), one stream per (module path, adapter index) from `deriveSeed(seed, 'dare',
 * path, i)`, one `random()` per entry in row-major order, dropping where it is `< p`; so a mask
 * does not depend on which other modules or adapters are merged.
 */
import { createRng, deriveSeed } from '@plora/common'
import { denseDelta, type FactoredDelta, factoredFromDense } from '@plora/peft'

/** Every merge method. */
export const MERGE_METHODS = ['cat', 'svd', 'ties', 'dare_linear', 'dare_ties', 'magnitude_prune'] as const
/** A merge method (see the module header). */
export type MergeMethod = (typeof MERGE_METHODS)[number]
/** The methods that act on the dense ΔW of each module and are re-projected afterwards. */
export const DENSE_MERGE_METHODS: readonly MergeMethod[] = ['ties', 'dare_linear', 'dare_ties', 'magnitude_prune']

/** Parameters of the dense methods; defaults in {@link DEFAULT_MERGE_METHOD_PARAMS}. */
export interface MergeMethodParams {
  /** Fraction of entries kept by magnitude (`ties`, `magnitude_prune`), in (0, 1]. */
  density: number
  /** DARE drop probability `p` in [0, 1) (`dare_linear`, `dare_ties`). */
  dropRate: number
  /** Seed of DARE's drop masks. */
  seed: number
}

/** Defaults: TIES's k = 20 % (Yadav et al. 2023), DARE's p = 0.9 (Yu et al. 2023), seed 0. */
export const DEFAULT_MERGE_METHOD_PARAMS: MergeMethodParams = { density: 0.2, dropRate: 0.9, seed: 0 }

/**
 * A copy of `x` with all but its `⌊density·numel⌋` largest-magnitude entries set to 0 (ties in
 * magnitude keep the lower index). PEFT `magnitude_based_pruning`.
 */
export function pruneByMagnitude(x: Float64Array, density: number): Float64Array {
  const keep = Math.floor(density * x.length)
  const out = new Float64Array(x.length)
  if (keep <= 0) return out
  if (keep >= x.length) return Float64Array.from(x)
  const order = Array.from({ length: x.length }, (_, i) => i)
  order.sort((i, j) => Math.abs(x[j]!) - Math.abs(x[i]!) || i - j)
  for (let t = 0; t < keep; t++) out[order[t]!] = x[order[t]!]!
  return out
}

/**
 * DARE's keep mask for one task vector: 1 = kept. Entry `e` is dropped when the `e`-th
 * `random()` of `PythonRandom(deriveSeed(seed, 'dare', path, adapterIndex))` is `< dropRate`.
 */
export function dareKeepMask(
  seed: number,
  path: string,
  adapterIndex: number,
  size: number,
  dropRate: number,
): Uint8Array {
  const rng = createRng(deriveSeed(seed, 'dare', path, adapterIndex))
  const mask = new Uint8Array(size)
  for (let e = 0; e < size; e++) mask[e] = rng.random() < dropRate ? 0 : 1
  return mask
}

/** `x ⊙ mask / (1 − p)` (DARE's drop and rescale). */
export function dropAndRescale(x: Float64Array, mask: Uint8Array, dropRate: number): Float64Array {
  const out = new Float64Array(x.length)
  const factor = 1 / (1 - dropRate)
  for (let e = 0; e < x.length; e++) if (mask[e] === 1) out[e] = x[e]! * factor
  return out
}

/**
 * TIES's sign election and disjoint mean over (already trimmed) task vectors: per entry, the
 * elected sign is that of `Σ_i x_i` (+ when 0); the result is the mean of the entries whose sign
 * equals it (0 when none does). PEFT `calculate_majority_sign_mask(method="total")` +
 * `disjoint_merge`.
 */
export function electSignDisjointMean(tensors: readonly Float64Array[]): Float64Array {
  const size = tensors[0]?.length ?? 0
  const out = new Float64Array(size)
  for (let e = 0; e < size; e++) {
    let total = 0
    for (const t of tensors) total += t[e]!
    const sign = total >= 0 ? 1 : -1
    let sum = 0
    let count = 0
    for (const t of tensors) {
      const v = t[e]!
      if (Math.sign(v) === sign) {
        sum += v
        count++
      }
    }
    out[e] = sum / Math.max(1, count)
  }
  return out
}

/** Element-wise sum of equally long tensors. */
function sumTensors(tensors: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(tensors[0]?.length ?? 0)
  for (const t of tensors) for (let e = 0; e < out.length; e++) out[e]! += t[e]!
  return out
}

/**
 * The dense merged `[out, in]` ΔW of one module under a dense method, from its weighted task
 * vectors (`w_i s_i B_i A_i` as factors; `adapterIndices[i]` names the adapter of `tasks[i]` for
 * DARE's mask streams).
 */
export function denseMergeModule(
  method: MergeMethod,
  tasks: readonly FactoredDelta[],
  adapterIndices: readonly number[],
  params: MergeMethodParams,
): Float64Array {
  const dense = tasks.map((t) => denseDelta(t))
  const path = tasks[0]?.path ?? ''
  const dropped = (): Float64Array[] =>
    dense.map((x, i) =>
      dropAndRescale(
        x,
        dareKeepMask(params.seed, path, adapterIndices[i]!, x.length, params.dropRate),
        params.dropRate,
      ),
    )
  switch (method) {
    case 'ties':
      return electSignDisjointMean(dense.map((x) => pruneByMagnitude(x, params.density)))
    case 'magnitude_prune':
      return sumTensors(dense.map((x) => pruneByMagnitude(x, params.density)))
    case 'dare_linear':
      return sumTensors(dropped())
    case 'dare_ties':
      return electSignDisjointMean(dropped())
    default:
      throw new RangeError(`denseMergeModule: ${method} is not a dense merge method`)
  }
}

/** {@link denseMergeModule} as an exact factored delta (rank `min(out, in)`), ready for re-projection. */
export function denseMergeModuleFactored(
  method: MergeMethod,
  tasks: readonly FactoredDelta[],
  adapterIndices: readonly number[],
  params: MergeMethodParams,
): FactoredDelta {
  const first = tasks[0]!
  return factoredFromDense(
    first.path,
    denseMergeModule(method, tasks, adapterIndices, params),
    first.outFeatures,
    first.inFeatures,
  )
}
