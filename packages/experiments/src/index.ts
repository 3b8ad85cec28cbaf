/**
 * `@plora/experiments`: experiment runners over the lower layers. So far: the security gate's
 * calibration and evaluation on populations of clean and poisoned adapters (`plora probes
 * calibrate`, `plora gate eval`) and the ROC statistics they report; the value-add experiment
 * (`plora value-add run`: trained adapters vs the pristine base and two placebos, paired statistics
 * with run-wide Holm/BH correction, JSONL + Markdown); the alternating train–merge study (`plora
 * alt-train-merge`: each cycle trains on fresh data on top of the previous merged model and merges
 * at the α of a held-out line search; `convergence.json`/`.md`); the figures of a results folder (Vega-Lite
 * specifications rendered headless to SVG by vega and to PNG by resvg; `plora figures`) and the
 * self-contained `results/report.html` (`plora report`); the rank × scheme ablation (`plora ablation`:
 * per-cell perplexity, ΔNLL with value-add statistics, parameters, bytes, train time, latency).
 * The value-add, ablation and population grids run in shards (`shard` i/n) and merge into a
 * one-machine run's output (`mergeValueAddShards`, `mergeAblationShards`, `mergePopulationShards`).
 *
 * @example
 * ```ts
 * const plan = planGatePopulation({ clean: 40, poisoned: 40, domains: ['legal'], ... })
 * await ensurePopulation(plan, { dir, modelDir, baseModel: 'embedded', model })
 * const { reference } = await calibrateGate({ plan, dir, harness, probeSet, ... })
 * ```
 */

export {
  ABLATION_ALPHA,
  ABLATION_DIR_RE,
  ABLATION_JSONL,
  ABLATION_MD,
  type AblationOptions,
  type AblationProgress,
  type AblationRecord,
  type AblationResult,
  type AblationTraining,
  ablationCellConfig,
  ablationDirName,
  ablationGridCells,
  ablationMarkdown,
  adjustAblationPValues,
  bestAblationCell,
  DEFAULT_ABLATION_OPTIONS,
  existingAblationOutputs,
  readAblationRecords,
  runAblation,
  trainableParams,
} from './ablation.js'
export {
  ABLATION_TIMING_FIELDS,
  type MergeAblationOptions,
  type MergeAblationResult,
  mergeAblationShards,
} from './ablation-shards.js'
export {
  type AdapterComparisonReport,
  adapterComparisonMarkdown,
  type CompareAdaptersOptions,
  type ComparisonRow,
  compareAdapters,
} from './adapter-comparison.js'
export {
  type AltTrainMergeOptions,
  type AltTrainMergeProgress,
  type AltTrainMergeResult,
  type AltTrainMergeTraining,
  CONVERGENCE_JSON,
  CONVERGENCE_MD,
  type ConvergenceReport,
  type CycleAdapterRecord,
  type CycleRecord,
  convergenceMarkdown,
  cycleTrainBlock,
  cycleTrainSeed,
  DEFAULT_ALT_TRAIN_MERGE_OPTIONS,
  runAltTrainMerge,
} from './alt-train-merge.js'
export { ExperimentsError, ExperimentsErrorCode } from './errors.js'
export {
  type AblationRow,
  ablationData,
  ablationFigure,
  acceptanceFigure,
  allFigures,
  BASE_CONFIG,
  COLORS,
  type ConvergenceDeltaRow,
  type ConvergenceLike,
  type ConvergenceNllRow,
  colorScale,
  convergenceDeltaData,
  convergenceFigure,
  convergenceNllData,
  DOMAIN_COLORS,
  FIGURE_INPUTS,
  type Figure,
  type FigureInputs,
  gatePerformanceData,
  gatePerformanceFigure,
  gateRocFigure,
  loadFigureInputs,
  markdownToHtml,
  miDecayData,
  miDecayFigure,
  placeholderFigure,
  type ReportOptions,
  type ReportResult,
  type RocSeries,
  renderFigure,
  renderSvg,
  robustnessData,
  robustnessFigure,
  rocData,
  rocFigure,
  rocSeriesOf,
  rq2Figure,
  scalabilityFigure,
  spectralData,
  spectralFigure,
  svgToPng,
  swarmDynamicsFigure,
  swarmGateData,
  swarmGateFigure,
  swarmRunFigure,
  sweepSummaryMarkdown,
  TOPOLOGY_COLORS,
  TOPOLOGY_NAMES,
  topologyComparisonData,
  topologyComparisonFigure,
  trainedVsPlaceboData,
  trainedVsPlaceboFigure,
  transferData,
  transferFigure,
  valueAddSummaryData,
  valueAddSummaryFigure,
  type WrittenFigure,
  writeFigures,
  writeReport,
} from './figures/public.js'
export {
  baseWeightsDigest,
  DEFAULT_POPULATION_TRAINING,
  type EnsurePopulationOptions,
  ensurePopulation,
  type GatePopulationOptions,
  type MemberRecord,
  memberDir,
  memberPoisonPath,
  memberRecord,
  memberRecordPath,
  type PopulationMember,
  type PopulationPlan,
  type PopulationTraining,
  planGatePopulation,
  planRanks,
  planSchemes,
  UNKNOWN_TRIGGERS,
} from './gate-population.js'
export {
  type CalibrateGateOptions,
  type CalibrationReport,
  calibrateGate,
  DETECTORS,
  type DetectorCalibration,
  type DetectorName,
  type DetectorScores,
  type EvaluatedMember,
  type EvaluateGateOptions,
  type EvaluationReport,
  evaluateGate,
  evaluationMarkdown,
  type GateStudyOptions,
  gateStudyPaths,
  type ScoredMember,
  type VerdictRates,
} from './gate-study.js'
export { checkShard, type GridShard, inShard, shardLabel } from './grid-shards.js'
export {
  type GatedMerge,
  type GateMergedOptions,
  gateMergedDeltas,
  MERGED_DOMAIN,
  type MergedPlasmidOptions,
  writeMergedPlasmid,
} from './merge-gate.js'
export {
  DEFAULT_MERGE_GATE_STUDY_TRAINING,
  type GatedInputRecord,
  type GatedMergeRecord,
  MERGE_GATE_STUDY_METHODS,
  type MergeGateStudyMethod,
  type MergeGateStudyOptions,
  type MergeGateStudyReport,
  type MethodSummary,
  mergeGateStudyMarkdown,
  type PlannedMerge,
  planMergeGateMerges,
  runMergeGateStudy,
} from './merge-gate-study.js'
export {
  ablationCells,
  ablationGrid,
  configValueAt,
  countJsonlRecords,
  effectiveSteps,
  grpcDemoDomain,
  hashPath,
  PIPELINE_NAMES,
  PIPELINE_PROFILES,
  PIPELINE_STATE_VERSION,
  PIPELINES,
  type PipelineConfig,
  type PipelineInfo,
  type PipelineName,
  type PipelineProfile,
  type PipelineState,
  type PipelineStatus,
  type PipelineStep,
  pipelineStatus,
  pipelineSteps,
  type RunPipelineOptions,
  type RunPipelineResult,
  readPipelineState,
  reportStage,
  resetPipeline,
  runPipeline,
  type StepCommand,
  type StepContext,
  type StepFingerprint,
  type StepRecord,
  type StepStatus,
  settingsChanged,
  staleReason,
  statePath,
  stepFingerprint,
  sweepCells,
  sweepSeeds,
  TOTAL_STEPS,
  valueAddCells,
} from './pipeline.js'
export { type CheckArtefactsOptions, type CheckArtefactsResult, checkArtefacts } from './pipeline-check.js'
export { pipelineHeadlines } from './pipeline-headlines.js'
export { type MergePopulationOptions, type MergePopulationResult, mergePopulationShards } from './population-shards.js'
export {
  aucEstimate,
  type BootstrapEstimateOptions,
  type Estimate,
  type RocPoint,
  rateEstimate,
  rocAuc,
  rocCurve,
  thresholdForFp,
} from './roc.js'
export {
  type CellProgress,
  cellConfig,
  DEFAULT_VALUE_ADD_OPTIONS,
  placeboGuardOffenders,
  readNllCache,
  resumeKey,
  runValueAdd,
  sortedNllCache,
  VALUE_ADD_JSONL,
  VALUE_ADD_MD,
  VALUE_ADD_NLL_CACHE,
  VALUE_ADD_SUMMARY,
  VALUE_ADD_TRAIN_SIDECAR,
  type ValueAddOptions,
  type ValueAddResult,
  type ValueAddTraining,
} from './value-add.js'
export {
  type ArtifactConfig,
  artifactBaseModel,
  type BuildValueAddOptions,
  type BuildValueAddResult,
  buildValueAdd,
  DEFAULT_BUILD_VALUE_ADD_OPTIONS,
  discoverArtifacts,
  filterArtifacts,
} from './value-add-build.js'
export { type ExampleNllOptions, exampleNlls, NLL_ON_CHOICES, type NllOn } from './value-add-nll.js'
export {
  type AdjustedPValues,
  adjustRunPValues,
  type EffectDecomposition,
  effectDecomposition,
  type ReadRecordsResult,
  type RecordConfig,
  readValueAddRecords,
  type StatRecord,
  type ValueAddRecord,
} from './value-add-records.js'
export { formatE3, formatSigned3, type ValueAddMarkdownOptions, valueAddMarkdown } from './value-add-report.js'
export {
  type MergeValueAddOptions,
  type MergeValueAddResult,
  mergeValueAddShards,
  VALUE_ADD_TIMING_FIELDS,
} from './value-add-shards.js'
