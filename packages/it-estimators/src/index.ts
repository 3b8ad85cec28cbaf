/**
 * @packageDocumentation
 * `@plora/it-estimators`: information-theoretic estimators — KSG k-NN mutual information
 * (algorithms 1 and 2, k-d tree search), the Gao et al. mixed estimator and plug-in/Miller–Madow
 * discrete MI, discrete transfer entropy with shift/permutation surrogates and effective TE, and
 * the network metrics `plora net-it` computes from a swarm history. MINE (TensorFlow.js) lives
 * under the subpath `@plora/it-estimators/mine` so that this entry point never loads TensorFlow.js.
 */
export { digamma, digammaInt } from './digamma.js'
export {
  combineIds,
  createDiscreteMiEvaluator,
  type DiscreteMiEvaluator,
  type DiscreteOptions,
  discreteEntropy,
  discreteMiFromIds,
  discreteMutualInformation,
  entropyOfIds,
  symbolIds,
} from './discrete.js'
export { ItError, ItErrorCode } from './errors.js'
export { type HistorySnapshot, parseSwarmHistory, readSwarmHistory, SwarmHistorySchema } from './history.js'
export { ChebyshevKdTree, SortedCounter } from './kd-tree.js'
export {
  DEFAULT_KSG_OPTIONS,
  type KsgOptions,
  ksgMutualInformation,
  type MixedKsgOptions,
  mixedKsgMutualInformation,
} from './ksg.js'
export { type SampleInput, type SampleMatrix, toMatrix } from './matrix.js'
export {
  chooseMiEstimator,
  DEFAULT_MI_OPTIONS,
  type MiEstimator,
  type MutualInformationOptions,
  type MutualInformationResult,
  mutualInformation,
} from './mutual-information.js'
export {
  adaptiveBins,
  adaptiveK,
  circularBlockIndices,
  computeNetIt,
  DEFAULT_NET_IT_OPTIONS,
  type FdrCorrection,
  type NetItComponents,
  type NetItOptions,
  type NetItResult,
} from './net-it.js'
export {
  createTeEvaluator,
  DEFAULT_TE_OPTIONS,
  DEFAULT_TE_TEST_OPTIONS,
  equalWidthCodes,
  forEachTeSurrogate,
  prepareTransferEntropy,
  type TeEvaluator,
  type TePrepared,
  type TransferEntropyOptions,
  type TransferEntropyTestOptions,
  type TransferEntropyTestResult,
  teSurrogates,
  transferEntropy,
  transferEntropyFromPrepared,
  transferEntropyTest,
} from './transfer-entropy.js'
