/**
 * @packageDocumentation
 * `@plora/swarm`: graph generators, deterministic gossip and phone-call protocols, consensus,
 * swarm metrics, spectral theory, reports, sweeps and calibrations (spec swarm.md).
 */

export {
  type AdapterSource,
  DUMMY_TARGETS,
  drawTrojans,
  type PrepareAdaptersOptions,
  type PreparedAdapters,
  prepareAdapters,
  TROJAN_NORM_FACTOR,
  virtualDummyArtefacts,
} from './adapters.js'
export {
  type BoundsRecord,
  type CalibrateCOptions,
  type CalibrationRecord,
  calibrateC,
  type GossipRunOptions,
  meanC,
  roundsToThreshold,
  type ValidateBoundsOptions,
  validateBounds,
  writeRecords,
} from './calibrate.js'
export { ConsensusEngine, type ConsensusOptions, type Slot, type Vote } from './consensus.js'
export { SwarmError, SwarmErrorCode } from './errors.js'
export { evaluateReports, summarizeReport, writeEvaluation } from './evaluate.js'
export {
  type Adjacency,
  applyTemporalDropout,
  barabasiAlbertGraph,
  buildGraph,
  type Csr,
  completeGraph,
  csrFromPairs,
  ER_EXACT_MAX_N,
  type ErdosRenyiOptions,
  edgeCount,
  erdosRenyiGraph,
  type GraphKind,
  type GraphParams,
  isConnected,
  talkPairs,
  toCsr,
  topologyName,
  wattsStrogatzGraph,
  weightedFromUnweighted,
} from './graph.js'
export { fromGraphology, type GraphologyLike, toGraphology } from './graph-export.js'
export {
  averageEntropy,
  binaryEntropy,
  cooccurrenceExcess,
  cooccurrenceSummary,
  coverage,
  domainCountEntropy,
  type KnowledgeSnapshot,
  knownDomains,
  miDeltas,
  miSeries,
  mutualInformation,
  mutualInformationFromMasks,
  networkFlowRate,
  roundsToDiffuse,
} from './metrics.js'
export {
  DEFAULT_DOMAINS,
  DEFAULT_SWARM_V2_OPTIONS,
  DETECTOR_FAMILIES,
  type DetectorCoverage,
  type DetectorFamily,
  type DetectorJudgement,
  detectorCoverage,
  detectorCoverageLines,
  detectorJudgement,
  historySnapshots,
  type RoundEntry,
  runSwarmV2,
  type SwarmV2Options,
  type SwarmV2Report,
  type SwarmV2Result,
} from './run.js'
export {
  type ArtefactInfo,
  DEFAULT_SIMULATION_OPTIONS,
  type ExchangeProtocol,
  type GateCounters,
  maskToDomains,
  type RoundMode,
  type RoundRecord,
  type SimulationInput,
  type SimulationOptions,
  type SimulationResult,
  simulateSwarm,
  type UniquePairCounters,
  type Verdict,
} from './simulate.js'
export {
  adjacencySpectralRadius,
  type CheegerBounds,
  cheegerBounds,
  conductanceEstimate,
  DENSE_MAX_N,
  denseLambda2,
  denseLaplacian,
  epidemicThreshold,
  type FiedlerOptions,
  type FiedlerResult,
  fiedler,
  type LaplacianKind,
  type PredictedRoundsOptions,
  predictedRoundsSpectral,
  randomCutConductanceUpperBound,
  spectralGap,
  symmetricCsr,
  symmetricEigenvalues,
} from './spectral.js'
export { type BootstrapOptions, bootstrapCiMean } from './stats.js'
export {
  DEFAULT_SWEEP_OPTIONS,
  runSweep,
  runSweepPoint,
  type SweepOptions,
  type SweepPoint,
  type SweepResult,
  sweepKey,
} from './sweep.js'
