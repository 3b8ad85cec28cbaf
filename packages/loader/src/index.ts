/**
 * @packageDocumentation
 * `@plora/loader`: the LoRA side of plora's engine (spec core.md §0.2–§0.3, §10, §11).
 *
 * - Re-exported from `@plora/peft` (the one reader of the format, shared with the gate): LoRA
 *   target schemes, PEFT adapter folders read and written as PEFT 0.12 does, float64 factor maths,
 *   placebo adapters.
 * - Inject/remove of adapters into a loaded model with bit-identical restore and any nesting
 *   (fixes `[D-11]`), a weight fingerprint to assert a pristine base, and un-merged side branches.
 * - Merging in factor space: weighted sum (explicit, Fisher or equal weights) or sequential, trust
 *   region, per-module caps, global scale, a line search on the true `W0 + α·Δ` that includes α = 0
 *   (fixes `[D-20]`), and rank-k re-projection by QR + small-core SVD of the stacked factors.
 * - Merge methods (PEFT `add_weighted_adapter` / mergekit): `cat`, `svd`, `ties`, `dare_linear`,
 *   `dare_ties`, `magnitude_prune`, with the re-projection's truncation error reported.
 *
 * @example
 * ```ts
 * const adapter = await loadPeftAdapter('out/legal') // from @plora/peft
 * const handle = injectAdapters(model, [adapter])
 * try { ... } finally { handle.remove() }   // weights bit-identical again
 * ```
 */

export { LoaderError, LoaderErrorCode } from './errors.js'
export { FISHER_JSON_FILE, FISHER_SAFETENSORS_FILE, loadFisherScalar } from './fisher.js'
export {
  activeInjections,
  assertPristineBase,
  baseFingerprint,
  createLoraBranches,
  type InjectionHandle,
  type InjectOptions,
  injectAdapters,
  injectDeltas,
  type LoraBranchSet,
  type LoraHost,
  type LoraModuleSource,
  withInjectedAdapters,
} from './inject.js'
export {
  createDeltaObjective,
  createMeanNllEvaluator,
  DEFAULT_LINE_SEARCH_OPTIONS,
  type LineSearchObjective,
  type LineSearchOptions,
  type LineSearchResult,
  lineSearchScale,
} from './line-search.js'
export {
  DEFAULT_MERGE_ADAPTERS_OPTIONS,
  type HostWithDir,
  type MergeAdaptersOptions,
  type MergeResult,
  mergeAdapters,
  writeMergedAdapter,
  writeMergedModel,
} from './merge.js'
export {
  DEFAULT_MERGE_METHOD_PARAMS,
  DENSE_MERGE_METHODS,
  dareKeepMask,
  denseMergeModule,
  dropAndRescale,
  electSignDisjointMean,
  MERGE_METHODS,
  type MergeMethod,
  type MergeMethodParams,
  pruneByMagnitude,
} from './merge-methods.js'
export {
  adapterFroSum,
  DEFAULT_MERGE_PLAN_OPTIONS,
  MERGE_STRATEGIES,
  type MergeInput,
  type MergePlan,
  type MergePlanOptions,
  type MergeStrategy,
  type MergeTruncation,
  type ModuleTruncation,
  planMerge,
  resolveMergeWeights,
  type WeightSource,
} from './merge-plan.js'
export {
  type AdapterProbeHarness,
  type AdapterProbeRunner,
  createProbeHarness,
  createProbeRunner,
  type ProbeRunnerOptions,
} from './probe-runner.js'
