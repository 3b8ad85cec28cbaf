/**
 * @packageDocumentation
 * `@plora/gate`: the security gate a verifier runs before it accepts a LoRA plasmid (spec core.md
 * §4–§9). A strict `Policy`; `checkAdapter` runs every check in the original's order and returns
 * `{passed, reasons, metrics}` with the original's reason strings; trust inputs (keys, revocations,
 * reputation, the clean reference population) come from the verifier, never from the adapter
 * folder; weight statistics of ΔW = s·B·A are computed on the LoRA factors; behavioural probes run
 * through a `ProbeHarness` the loader implements (the gate never imports a model); each decision
 * can be appended to a hash-chained audit log.
 *
 * @example
 * const policy = resolvePolicy({ policyFile: 'policy.json' })
 * const ctx = await loadGateContext(policy, { auditLogPath: 'results/audit/gate_audit.jsonl' })
 * const { passed, reasons, metrics } = await checkAdapter('out/legal', policy, ctx)
 */
export {
  type AdapterConfigInfo,
  type AdapterWeightSummary,
  adapterFeatures,
  DEFAULT_MAX_SPECTRAL_WORK,
  DEFAULT_SUMMARIZE_OPTIONS,
  FEATURE_NAMES,
  type FeatureName,
  type ModuleSummary,
  parseAdapterConfig,
  populationRank,
  readAdapterConfig,
  type SummarizeOptions,
  summarizeAdapterBytes,
  summarizeAdapterWeights,
} from './adapter-weights.js'
export {
  checkAdapter,
  type GateDecision,
  type GateMetrics,
  type GateThresholds,
  type ModuleReport,
} from './check.js'
export {
  type GateContext,
  type LoadGateContextOptions,
  loadGateContext,
  loadReputation,
  loadRevocations,
  loadTrustedKeys,
} from './context.js'
export { GateError, GateErrorCode } from './errors.js'
export {
  factorSingularValues,
  type LoraFactors,
  MAD_TO_SIGMA,
  type ModuleUpdateStats,
  mad,
  median,
  moduleUpdateStats,
  robustZ,
  signedRobustZ,
} from './lora-stats.js'
export {
  ATTENTION_SUFFIXES,
  DEFAULT_MAX_RANK,
  DEFAULT_POLICY,
  DEFAULT_REQUIRE_WEIGHT_REFERENCE,
  dumpPolicyJson,
  expandTargets,
  loadPolicyFile,
  MLP_SUFFIXES,
  type Policy,
  type PolicyConfigDefaults,
  type PolicyInput,
  PolicySchema,
  parseAllowedTargets,
  parsePolicy,
  type ResolvePolicyOptions,
  readAllowedTargetsFile,
  resolvePolicy,
  resolvePolicyPaths,
} from './policy.js'
export {
  type PolicyFlags,
  type PolicyFromFlagsOptions,
  PROBES_CALIB_FIELDS,
  type ProbesCalibField,
  policyFromFlags,
  readProbesCalibration,
} from './policy-flags.js'
export {
  type AttachedProbeRunner,
  answerMatches,
  DEFAULT_PROBES_PATH,
  loadProbeSet,
  type ProbeHarness,
  type ProbeResult,
  type ProbeRunner,
  type ProbeSet,
  ProbeSetSchema,
  parseProbeSet,
  payloadHit,
  probePrompts,
  runProbes,
  withoutTrigger,
} from './probes.js'
export { isRejectReason, orderReasons, REASON_DESCRIPTIONS, REJECT_REASONS, type RejectReason } from './reasons.js'
export {
  buildReference,
  computeReference,
  featureZScores,
  findPopulation,
  findPopulations,
  GATE_REF_SCHEMA,
  type GateReference,
  GateReferenceSchema,
  mahalanobis,
  moduleZScores,
  NORM_FEATURES,
  type PopulationKey,
  type PopulationMatch,
  populationLabel,
  type ReferencePopulation,
  type ReferenceSample,
  type ReferenceScoresResult,
  type ReferenceThresholds,
  readReference,
  referenceScores,
  type WeightScores,
  weightScores,
  writeReference,
} from './reference.js'
export { checkSignatures, type SignatureMetrics, verifyPrimarySignature } from './signatures.js'
export {
  DEFAULT_LR_LAMBDA,
  fitLogisticRegression,
  type LogisticFitOptions,
  type LogisticModel,
  logisticScore,
  type SpectralClassifier,
  SpectralClassifierSchema,
  spectralClassifierProblem,
} from './spectral-classifier.js'
export {
  moduleKind,
  moduleSpectralParts,
  namedSpectralFeatures,
  SPECTRAL_FEATURE_NAMES,
  SPECTRAL_KINDS,
  SPECTRAL_STATS,
  type SpectralFeatures,
  type SpectralKind,
  type SpectralModuleInput,
  type SpectralPart,
  type SpectralStat,
  spectralFeatures,
  spectralStats,
} from './spectral-features.js'
