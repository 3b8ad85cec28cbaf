/**
 * `plora merge` as a library (spec core.md §11.3, pipelines.md §8.5): load adapters, plan the
 * merge in factor space ({@link planMerge}), optionally pick a scale by line search on the true
 * `W0 + α·Δ`, and write either a rank-k PEFT adapter or a merged Hugging Face model folder.
 */
import { copyFile, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { createStagingDir, installDirAtomic, type Logger, SILENT_LOGGER } from '@plora/common'
import {
  adapterFromDeltas,
  checkAdapterFitsModel,
  type FactoredDelta,
  type LoraAdapter,
  scaleDeltaInPlace,
  writePeftAdapter,
} from '@plora/peft'
import { writeSafetensors } from '@plora/safetensors'
import { injectDeltas, type LoraHost } from './inject.js'
import { createDeltaObjective, type LineSearchOptions, type LineSearchResult, lineSearchScale } from './line-search.js'
import { type MergeInput, type MergePlan, type MergePlanOptions, planMerge } from './merge-plan.js'

/** Options of {@link mergeAdapters}. */
export interface MergeAdaptersOptions extends MergePlanOptions {
  /**
   * Scores the model as it currently is (lower is better), e.g. mean token NLL on a held-out
   * set. With it, and without `globalScale`, a line search picks α for `W0 + α·Δ`.
   */
  evaluate: (() => Promise<number>) | null
  lineSearch: Partial<LineSearchOptions>
  logger: Logger
}

/** Defaults (the original's). */
export const DEFAULT_MERGE_ADAPTERS_OPTIONS: Omit<MergeAdaptersOptions, keyof MergePlanOptions> = {
  evaluate: null,
  lineSearch: {},
  logger: SILENT_LOGGER,
}

/** Result of {@link mergeAdapters}. */
export interface MergeResult {
  plan: MergePlan
  /** The line search, when it ran. */
  lineSearch: LineSearchResult | null
  /** The final deltas (`α` applied). */
  deltas: Map<string, FactoredDelta>
}

/**
 * Merges loaded adapters for `host` in factor space. Sequential and weighted-sum strategies,
 * the merge methods of merge-methods.ts (`cat`, `svd`, `ties`, `dare_linear`, `dare_ties`,
 * `magnitude_prune`), explicit/Fisher/equal weights, trust region, caps, global scale, re-projection and the line
 * search all follow {@link planMerge} and {@link lineSearchScale}. The model's weights are
 * unchanged afterwards (bit-identical).
 *
 * @throws PeftError `PEFT_ADAPTER_MODEL_MISMATCH` when an adapter does not fit the model, and
 *   the codes of {@link planMerge}.
 */
export async function mergeAdapters(
  host: LoraHost,
  adapters: ReadonlyArray<LoraAdapter & { fisherScalar?: number | null }>,
  options: Partial<MergeAdaptersOptions> = {},
): Promise<MergeResult> {
  const o = { ...DEFAULT_MERGE_ADAPTERS_OPTIONS, ...options }
  const modules = host.linearModules()
  for (const a of adapters) checkAdapterFitsModel(a, modules)
  const inputs: MergeInput[] = adapters.map((a, i) => ({
    name: a.dir ?? `adapter ${i}`,
    modules: a.modules,
    fisherScalar: a.fisherScalar ?? null,
  }))
  const plan = planMerge(inputs, options)
  o.logger.info(
    `merge: ${plan.strategy}/${plan.method}, ${adapters.length} adapter(s), weights [${plan.weights.map((w) => w.toPrecision(4)).join(', ')}] (${plan.weightSource}), ` +
      `‖Δ‖_F ${plan.normBefore.toPrecision(4)} → ${plan.normAfter.toPrecision(4)}, ${plan.deltas.size} module(s)`,
  )
  if (plan.truncation !== null) {
    o.logger.info(
      `merge: rank-${plan.truncation.rank} re-projection lost ‖ΔW − ΔW_k‖_F / ‖ΔW‖_F = ${plan.truncation.relative.toPrecision(4)}`,
    )
  }
  let lineSearch: LineSearchResult | null = null
  const deltas = plan.deltas
  if (o.evaluate !== null && plan.strategy === 'weighted_sum' && (o.globalScale ?? null) === null && deltas.size > 0) {
    lineSearch = await lineSearchScale(createDeltaObjective(host, deltas, o.evaluate), o.lineSearch)
    o.logger.info(
      `merge: line search chose α = ${lineSearch.alpha} (objective ${lineSearch.value} vs base ${lineSearch.baseValue})`,
    )
    if (lineSearch.alpha !== 1) for (const d of deltas.values()) scaleDeltaInPlace(d, lineSearch.alpha)
  }
  return { plan, lineSearch, deltas }
}

/** Writes merged deltas as a PEFT adapter folder (rank = the re-projection rank, or the stacked rank). */
export async function writeMergedAdapter(
  outDir: string,
  deltas: ReadonlyMap<string, FactoredDelta>,
  options: { baseModelNameOrPath: string | null; fanInFanOut: boolean; targetModules?: readonly string[] },
): Promise<LoraAdapter> {
  const adapter = adapterFromDeltas(deltas, options)
  await writePeftAdapter(outDir, adapter)
  return { ...adapter, dir: outDir }
}

/** A model that knows its source folder (`CausalLM.modelDir`). */
export interface HostWithDir extends LoraHost {
  readonly modelDir: string
}

// Files of a Hugging Face model folder other than the weights, copied next to the merged weights.
const WEIGHT_FILE_RE =
  /^(model.*\.safetensors|model\.safetensors\.index\.json|pytorch_model.*\.bin.*|.*\.pt|.*\.msgpack|.*\.h5)$/

/**
 * Writes a complete merged model folder: every parameter of `W0 + Δ` as F32 `model.safetensors`
 * (Hugging Face state-dict names, `{format: pt}`), plus the source folder's config, tokenizer and
 * generation files. The folder is built in a staging directory and installed atomically; the
 * model's own weights are restored bit-exactly afterwards.
 */
export async function writeMergedModel(
  outDir: string,
  host: HostWithDir,
  deltas: ReadonlyMap<string, FactoredDelta>,
  options: { replace?: boolean } = {},
): Promise<void> {
  const staging = await createStagingDir(outDir)
  try {
    const handle = deltas.size > 0 ? injectDeltas(host, deltas.values(), { label: 'merge output' }) : null
    try {
      const tensors: Array<[string, { dtype: 'F32'; shape: number[]; data: Float32Array }]> = []
      for (const name of [...host.params.keys()].sort()) {
        const v = host.params.get(name)!
        tensors.push([name, { dtype: 'F32', shape: [...v.shape], data: Float32Array.from(await v.data()) }])
      }
      await writeSafetensors(join(staging, 'model.safetensors'), tensors, { format: 'pt' })
    } finally {
      handle?.remove()
    }
    for (const entry of await readdir(host.modelDir, { withFileTypes: true })) {
      if (entry.isFile() && !WEIGHT_FILE_RE.test(entry.name))
        await copyFile(join(host.modelDir, entry.name), join(staging, entry.name))
    }
    await installDirAtomic(staging, outDir, { replace: options.replace ?? false })
  } catch (e) {
    await rm(staging, { recursive: true, force: true })
    throw e
  }
}
