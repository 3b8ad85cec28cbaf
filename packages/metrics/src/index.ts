/**
 * @packageDocumentation
 * `@plora/metrics`: pure functions on numbers and strings — text metrics (exact match, chrF++ as the
 * original computes it, perplexity from NLLs, KL/JS on logits, ECE) and paired statistics
 * (Wilcoxon signed-rank matching scipy 1.10, sign test, seeded bootstrap CIs with percentile and
 * BCa intervals, Benjamini–Hochberg and Holm). No TensorFlow.js here: callers pass plain arrays.
 *
 * @example
 * ```ts
 * import { wilcoxonSignedRank, benjaminiHochberg } from '@plora/metrics'
 * const { pValue } = wilcoxonSignedRank(deltas, { zeroMethod: 'pratt' })
 * ```
 */

export { type BinomialInterval, clopperPearson } from './binomial-interval.js'
export {
  type BootstrapCi,
  type BootstrapOptions,
  bootstrapCi,
  bootstrapCiMean,
  DEFAULT_BOOTSTRAP_OPTIONS,
  mean,
  pairedBootstrapCi,
  type SampleStatistic,
} from './bootstrap.js'
export { type EceFromLogitsOptions, eceFromLogits, expectedCalibrationError } from './calibration.js'
export { jsDivergenceLogits, klDivergenceLogits, logSoftmaxInto } from './divergence.js'
export {
  cohensDz,
  type PairedEffectSizes,
  pairedEffectSizes,
  type RankBiserialOptions,
  rankBiserial,
} from './effect-size.js'
export { MetricsError, MetricsErrorCode } from './errors.js'
export { benjaminiHochberg, holm, type MultipleTestingResult } from './multiple-testing.js'
export { normalCdf, normalQuantile, normalSf } from './normal.js'
export {
  DEFAULT_PAIRED_STAT_OPTIONS,
  type PairedStat,
  type PairedStatOptions,
  pairedStat,
} from './paired-stats.js'
export { perplexity } from './perplexity.js'
export { averageRanks } from './ranks.js'
export type { SignTestOptions } from './sign-test.js'
export { type SignTestResult, signTest } from './sign-test.js'
export { type TeProxyOptions, transferEntropyProxy } from './te-proxy.js'
export {
  type ChrfOptions,
  chrfScore,
  DEFAULT_CHRF_OPTIONS,
  exactMatch,
  normalizeAnswer,
  payloadHit,
} from './text.js'
export {
  type Alternative,
  DEFAULT_WILCOXON_OPTIONS,
  type WilcoxonOptions,
  type WilcoxonResult,
  type WilcoxonZeroMethod,
  wilcoxonNullPmf,
  wilcoxonSignedRank,
} from './wilcoxon.js'
