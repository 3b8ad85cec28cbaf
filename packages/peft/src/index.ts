/**
 * @packageDocumentation
 * `@plora/peft`: the PEFT LoRA adapter format, once, without TensorFlow.js (issue 15 "Design, not
 * patches"). The loader injects, the gate measures, the trainer and swarm write adapters: all
 * through these functions, so what the gate sees is what the loader injects.
 *
 * - `adapter_config.json`: zod schema with PEFT's semantics (`rank_pattern` / `alpha_pattern` as
 *   version-checked regexes, `use_rslora`, `target_modules` regex or list, refused features).
 * - Tensor keys: `base_model.model.<path>.lora_A|lora_B[.default].weight`, one rule.
 * - The folder: `adapter_config.json` + `adapter_model.safetensors`, no second weights file.
 * - Float64 factor maths: ‖s·B·A‖_F, Gram-based spectra, QR + core-SVD re-projection.
 * - Placebo adapters; target schemes and the suffix vocabularies.
 *
 * @example
 * ```ts
 * import { loadPeftAdapter, moduleUpdateStats } from '@plora/peft'
 * const adapter = await loadPeftAdapter('out/legal')
 * for (const m of adapter.modules.values()) {
 *   const st = moduleUpdateStats({ a: m.a, b: m.b, r: m.rank, inFeatures: m.inFeatures, outFeatures: m.outFeatures, scale: m.scale })
 * }
 * ```
 */
export {
  type BuildPeftLoraConfigOptions,
  buildPeftLoraConfig,
  isTargetModule,
  MAX_MODULE_PATH_LENGTH,
  MAX_PATTERN_KEYS,
  MAX_PATTERN_LENGTH,
  type ModuleLoraParams,
  moduleLoraParams,
  moduleRank,
  moduleScale,
  type PeftLoraConfig,
  PeftLoraConfigSchema,
  parsePeftLoraConfig,
  serializePeftLoraConfig,
} from './config.js'
export { PeftError, PeftErrorCode } from './errors.js'
export {
  ADAPTER_CONFIG_FILE,
  ADAPTER_SIDECAR_FILES,
  ADAPTER_WEIGHTS_FILE,
  type AdapterFromDeltasOptions,
  adapterFromDeltas,
  assertArtefactIsLoaded,
  assertUpdateSane,
  checkAdapterFitsModel,
  checkAdapterFolderFiles,
  decodePeftWeights,
  type LoraAdapter,
  type LoraPairShape,
  loadPeftAdapter,
  loraModulesFromTensors,
  MAX_FACTOR_ABS,
  MAX_LORA_SCALE,
  MAX_PEFT_CONFIG_DEPTH,
  MAX_UPDATE_FROBENIUS,
  PEFT_DEFAULT_ADAPTER_NAME,
  PEFT_KEY_PREFIX,
  type PeftTensorKey,
  pairLoraTensors,
  parsePeftConfigBytes,
  parsePeftConfigText,
  parsePeftTensorKey,
  peftTensorKey,
  unexpectedWeightFiles,
  WEIGHTS_FILE_PATTERN,
  writePeftAdapter,
} from './folder.js'
export {
  type DeltaGrams,
  type DeltaSvd,
  deltaFrobeniusSquared,
  deltaGrams,
  denseDelta,
  EXACT_DENSE_SVD_MAX,
  type FactoredDelta,
  factoredDeltaOf,
  factoredFromDense,
  factoredSvd,
  frobeniusSquaredFromGrams,
  type LoraModule,
  type Reprojection,
  reprojectDelta,
  reprojectDeltaWithError,
  reprojectLargeDense,
  scaleDeltaInPlace,
  scaleGramsInPlace,
  stackDeltas,
  updateFrobenius,
} from './lora-math.js'
export { factorSingularValues, type LoraFactors, type ModuleUpdateStats, moduleUpdateStats } from './lora-stats.js'
export { createPlaceboAdapter, type PlaceboOptions } from './placebo.js'
export {
  ALL_SUFFIXES,
  ATTENTION_SUFFIXES,
  classifyModulePath,
  type LinearModuleInfo,
  MLP_SUFFIXES,
  parseTargetScheme,
  type ResolvedTargets,
  resolveTargetModules,
  selectModulesByNames,
  TARGET_SCHEMES,
  type TargetScheme,
} from './targets.js'
